// Base64 read back (cursors we issued, webhook secrets, a tracking pixel's data): the standard or the URL-safe
// alphabet, padded or not. Throws on anything else, invalid UTF-8 included.

export function bytesOfBase64(text: string): Uint8Array<ArrayBuffer> {
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(standard.padEnd(Math.ceil(standard.length / 4) * 4, "=")), (ch) => ch.charCodeAt(0));
}

export const textOfBase64 = (text: string) => new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytesOfBase64(text));
