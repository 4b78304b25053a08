/** A parsed, normalised image reference, as distribution/reference's ParseNormalizedNamed sees it. */
export interface ImageReference {
  /** The string as written in the pod spec. */
  readonly input: string;
  /** Registry host, with port when given: `docker.io`, `quay.io`, `localhost:5000`. */
  readonly domain: string;
  /** Repository path below the domain: `library/nginx`. */
  readonly path: string;
  /** `domain/path`: the name the kubelet looks credentials up by (tag and digest dropped). */
  readonly name: string;
  /** Tag as written, or undefined. */
  readonly tag: string | undefined;
  /** Digest as written (`sha256:...`), or undefined. */
  readonly digest: string | undefined;
  /** Canonical pull form (ParseDockerRef): `docker.io/library/nginx:latest`; a digest replaces the tag. */
  readonly normalized: string;
}

export type ImageReferenceResult =
  | { readonly ok: true; readonly reference: ImageReference }
  | { readonly ok: false; readonly input: string; readonly error: string };
