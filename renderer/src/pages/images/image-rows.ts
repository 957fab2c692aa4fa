// The Images list's rows: one per tag, as `docker images` prints them.
import type { ImageSummary } from '../../../../electron/src/common/engine-types';

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
