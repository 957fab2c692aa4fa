// The parts of the engine's image answers the Images pages read.

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests?: string[] | null;
  Size: number;
  Created: number;
}

export interface ImageConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  ExposedPorts?: Record<string, unknown> | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  Volumes?: Record<string, unknown> | null;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: string;
  Size: number;
  Architecture?: string;
  Os?: string;
  Author?: string;
  Config: ImageConfig | null;
  RootFS?: { Type: string; Layers?: string[] };
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One row of the list per tag, as `docker images` prints; an untagged image gets one row. */
export interface ImageRowView {
  key: string;
  image: ImageSummary;
  /** `repo:tag`, or undefined for a dangling image. */
  tag: string | undefined;
}

export function rowsOf(images: ImageSummary[]): ImageRowView[] {
  return images.flatMap((image): ImageRowView[] => {
    const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    return tags.length ? tags.map((tag) => ({ key: `${image.Id} ${tag}`, image, tag })) : [{ key: image.Id, image, tag: undefined }];
  });
}
