/**
 * TYPE A (RFC 959 section 3.1.1.1): on the wire a line ends with CR LF; files are stored with
 * the server's own LF. Both conversions work chunk by chunk, so a CR LF split across two
 * chunks is still seen as one line end.
 */

/** Upload: CR LF becomes LF; a CR not followed by LF is data and stays. */
export class CrlfToLf {
  /** A CR that ended the previous chunk, waiting to see whether an LF follows. */
  private pendingCr = false;

  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let n = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.length > 0 && chunk[0] !== 0x0a) out[n++] = 0x0d;
    }
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === 0x0d) {
        if (i + 1 === chunk.length) {
          this.pendingCr = true;
          continue;
        }
        if (chunk[i + 1] === 0x0a) continue;
      }
      out[n++] = byte;
    }
    return out.subarray(0, n);
  }

  /** What is left at the end of the upload (a final lone CR). */
  end(): Buffer {
    const rest = this.pendingCr ? Buffer.from([0x0d]) : Buffer.alloc(0);
    this.pendingCr = false;
    return rest;
  }
}

/**
 * Download: every LF becomes CR LF. A CR already in the file is data of a Unix file and is
 * sent as it is, so a client that converts back gets the stored bytes again.
 */
export function lfToCrlf(chunk: Buffer): Buffer {
  let count = 0;
  for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) count++;
  if (count === 0) return chunk;
  const out = Buffer.allocUnsafe(chunk.length + count);
  let n = 0;
  let from = 0;
  for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
    n += chunk.copy(out, n, from, i);
    out[n++] = 0x0d;
    out[n++] = 0x0a;
    from = i + 1;
  }
  chunk.copy(out, n, from);
  return out;
}
