/**
 * Bearer API keys. Both sides are hashed to fixed-length SHA-256 digests and compared without early exit, against every
 * configured key, so neither a key's contents nor its length leak through timing.
 */
async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
}

/**
 * True when the Authorization header carries one of the keys.
 * @example await isAuthorized('Bearer sk-1', ['sk-1', 'sk-2']) // true
 */
export async function isAuthorized(authorization: string | undefined, keys: readonly string[]): Promise<boolean> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const presented = await digest(match?.[1] ?? '');
  let authorized = false;
  for (const key of keys) {
    const expected = await digest(key);
    let difference = 0;
    for (let i = 0; i < expected.length; i++) difference |= expected[i] ^ presented[i];
    if (difference === 0) authorized = true;
  }
  return match !== null && authorized;
}
