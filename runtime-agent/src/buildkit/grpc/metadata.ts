// gRPC metadata from HTTP/2 headers. Node joins a repeated header into one comma-separated string
// (and a value may itself hold commas), so lists are read from the raw header pairs instead.
export type Metadata = Map<string, string[]>;

/** `raw` is Node's rawHeaders for a stream: [name, value, name, value, ...]. */
export function metadataFromRaw(raw: readonly string[]): Metadata {
  const metadata: Metadata = new Map();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(':') || name === 'content-type' || name === 'te' || name.startsWith('grpc-')) continue;
    const values = metadata.get(name) ?? [];
    values.push(name.endsWith('-bin') ? Buffer.from(raw[i + 1]!, 'base64').toString('utf8') : raw[i + 1]!);
    metadata.set(name, values);
  }
  return metadata;
}

export function firstValue(metadata: Metadata, name: string): string | undefined {
  return metadata.get(name.toLowerCase())?.[0];
}

/** Outgoing metadata as http2 headers: a list value becomes a repeated header. */
export function metadataHeaders(metadata: Record<string, string | string[]>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(metadata)) headers[name.toLowerCase()] = value;
  return headers;
}
