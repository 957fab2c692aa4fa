// WWW-Authenticate challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:x:pull"
//   Basic realm="Registry Realm"
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  const result: Challenge[] = [];
  for (const value of values) {
    const re = /([A-Za-z][\w-]*)\s+((?:[\w-]+=(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)/g;
    let match: RegExpExecArray | null;
    while ((match = re.exec(value))) {
      const params: Record<string, string> = {};
      const paramRe = /([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
      let p: RegExpExecArray | null;
      while ((p = paramRe.exec(match[2] ?? ''))) params[(p[1] ?? '').toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      result.push({ scheme: (match[1] ?? '').toLowerCase(), params });
    }
  }
  return result;
}
