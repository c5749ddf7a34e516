/** Whether `buf` holds the bytes of `prefix` at `at`. A loop: a call into C++ per line or hash cost more. */
export function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  if (at + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}
