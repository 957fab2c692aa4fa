// What berthd keeps about an image: its layers (diff and chain IDs, and the blobs they came as),
// the manifests that name it, and how a build made it. Stored by images/image-store.ts.
import type { Descriptor } from './media-types.js';

/** Where a compressed blob of a layer is known to exist, so a push can mount it instead of uploading. */
export interface BlobSource {
  domain: string;
  path: string;
}

export interface LayerRecord {
  diffId: string;
  chainId: string;
  /** The compressed (or plain) blob in the content store, when we have one. */
  blob?: Descriptor;
  sources?: BlobSource[];
}

export interface ImageRecord {
  /** sha256 of the config blob: the image ID. */
  id: string;
  layers: LayerRecord[];
  /** Manifests we hold for this image, by digest (kept so a digest reference can be served again). */
  manifests?: Descriptor[];
  /** Parent image (builds), as dockerd's `Parent`. */
  parent?: string;
  /** The build step that made this image from its parent: the builder's cache key. */
  buildCache?: string;
  /** When this engine first stored the image (dockerd's `Metadata.LastTagTime` is similar). */
  added: string;
}
