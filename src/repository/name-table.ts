/**
 * Distfile names as UTF-8 bytes in one arena, each a row number, found through an
 * open-addressing table of typed arrays: no string, no Map entry and no heap object per name
 * (~194k on a ::gentoo-sized tree, each copied twice by the young generation while a build made
 * them). Append-only: snapshots share one table, each knowing how many rows it has, so a row a
 * later refresh adds is one no earlier snapshot sees.
 */
export class NameTable {
  // Nothing until the first name (an index of no repository costs nothing), then room for a
  // large overlay, growing fourfold: each growth copies, and every new page faults.
  private arena = new Uint8Array(0);
  private used = 0;
  /** Row → start in the arena; starts[count] is where the next name goes. */
  private starts = new Int32Array(0);
  private hashes = new Int32Array(0);
  /** Row + 1, 0 empty; a power of two, at most half full. */
  private slots = new Int32Array(1);
  private rows = 0;

  get count(): number {
    return this.rows;
  }

  /** The row of the name in `src[start, start + length)` (UTF-8), added if new. */
  rowOfBytes(src: Uint8Array, start: number, length: number): number {
    const hash = hashBytes(src, start, length);
    const slot = this.slotOfBytes(src, start, length, hash);
    const row = this.slots[slot] - 1;
    return row >= 0 ? row : this.addBytes(src, start, length, hash, slot);
  }

  /** The row of `name`, added if new. */
  rowOf(name: string): number {
    const row = this.find(name);
    if (row >= 0) return row;
    const bytes = Buffer.from(name, 'utf8');
    return this.rowOfBytes(bytes, 0, bytes.length);
  }

  /** The row of `name`, or -1. */
  find(name: string): number {
    const hash = hashString(name);
    if (hash === NOT_ASCII) {
      const bytes = Buffer.from(name, 'utf8');
      return this.findBytes(bytes, 0, bytes.length);
    }
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const row = this.slots[slot] - 1;
      if (row < 0) return -1;
      if (this.hashes[row] === hash && this.sameAscii(row, name)) return row;
    }
  }

  nameOf(row: number): string {
    return Buffer.from(this.arena.buffer, this.arena.byteOffset).toString(
      'utf8',
      this.starts[row],
      this.starts[row + 1],
    );
  }

  private findBytes(src: Uint8Array, start: number, length: number): number {
    return this.slots[this.slotOfBytes(src, start, length, hashBytes(src, start, length))] - 1;
  }

  /** The slot holding the name, or the empty one where it would go. */
  private slotOfBytes(src: Uint8Array, start: number, length: number, hash: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const row = this.slots[slot] - 1;
      if (row < 0 || (this.hashes[row] === hash && this.sameBytes(row, src, start, length))) return slot;
    }
  }

  private sameBytes(row: number, src: Uint8Array, start: number, length: number): boolean {
    const at = this.starts[row];
    if (this.starts[row + 1] - at !== length) return false;
    const arena = this.arena;
    for (let i = 0; i < length; i++) if (arena[at + i] !== src[start + i]) return false;
    return true;
  }

  private sameAscii(row: number, name: string): boolean {
    const at = this.starts[row];
    if (this.starts[row + 1] - at !== name.length) return false;
    const arena = this.arena;
    for (let i = 0; i < name.length; i++) if (arena[at + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  private addBytes(src: Uint8Array, start: number, length: number, hash: number, slot: number): number {
    const row = this.rows;
    if (this.used + length > this.arena.length) this.arena = grown(this.arena, this.used + length, 1 << 20);
    if (row + 2 > this.starts.length) {
      this.starts = grown(this.starts, row + 2, 1 << 16);
      this.hashes = grown(this.hashes, row + 2, 1 << 16);
    }
    // A loop: a subarray view per name was 13 MB of garbage per ::gentoo-sized build.
    const arena = this.arena;
    for (let i = 0; i < length; i++) arena[this.used + i] = src[start + i];
    this.used += length;
    this.starts[row + 1] = this.used;
    this.hashes[row] = hash;
    this.rows = row + 1;
    this.slots[slot] = row + 1;
    if (2 * this.rows >= this.slots.length) this.rehash();
    return row;
  }

  private rehash(): void {
    const slots = new Int32Array(Math.max(1 << 17, 2 * this.slots.length));
    const mask = slots.length - 1;
    for (let row = 0; row < this.rows; row++) {
      let slot = this.hashes[row] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = row + 1;
    }
    this.slots = slots;
  }
}

const NOT_ASCII = -1;

/** FNV-1a over the bytes, never -1. */
function hashBytes(src: Uint8Array, start: number, length: number): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ src[start + i], 0x01000193);
  return hash === NOT_ASCII ? 0 : hash;
}

/** hashBytes of the name's UTF-8 bytes when it is all ASCII (then they are its char codes), else NOT_ASCII. */
function hashString(name: string): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return NOT_ASCII;
    hash = Math.imul(hash ^ c, 0x01000193);
  }
  return hash === NOT_ASCII ? 0 : hash;
}

function grown<T extends Uint8Array | Int32Array>(array: T, needed: number, first: number): T {
  let length = Math.max(first, 4 * array.length);
  while (length < needed) length *= 4;
  const copy = new (array.constructor as new (length: number) => T)(length);
  copy.set(array);
  return copy;
}
