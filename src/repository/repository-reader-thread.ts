import { depScanner } from './dep-string.js';
import { hexPairs, packDistLines } from './manifest.js';
import { md5Packer } from './md5-cache-pack.js';

// The program of NodeRepositoryReader's thread (repository-reader.ts), and what it answers.
// Plain CommonJS for `eval`: the worker must not depend on how the project is compiled (the
// packers come in as their own compiled source text, which uses nothing outside itself).
// Files are read into buffers that travel to the main thread and come back ('return') once
// parsed: a fresh buffer per batch or per file would pile up until a GC frees it, and malloc
// keeps that high-water mark for good.
export const READER_THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const packDistLines = ${packDistLines.toString()};
const PAIRS = (${hexPairs.toString()})();
const packMd5Cache = (${md5Packer.toString()})((${depScanner.toString()})(), require('node:buffer').isUtf8);
let packed = Buffer.alloc(1 << 16);
const missing = (error) => error.code === 'ENOENT' || error.code === 'ENOTDIR';
const pool = [];
const ensure = (data, total, end) => {
  if (end <= data.length) return data;
  const grown = Buffer.from(new ArrayBuffer(Math.max(2 * data.length, end)));
  data.copy(grown, 0, 0, total);
  return grown;
};
parentPort.on('message', ({ id, op, paths, buffer, pack }) => {
  if (op === 'return') {
    pool.push(buffer);
    return;
  }
  if (op === 'touch') {
    const bytes = new Uint8Array(buffer);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 0;
    parentPort.postMessage({ id, ctimes: [], errors: [] });
    return;
  }
  const ctimes = paths.map(() => NaN);
  const errors = [];
  if (op === 'stat') {
    paths.forEach((path, i) => {
      try { ctimes[i] = fs.statSync(path).ctimeMs; } catch (error) { if (!missing(error)) errors.push([i, error.message]); }
    });
    parentPort.postMessage({ id, ctimes, errors });
    return;
  }
  let data = Buffer.from(pool.pop() ?? new ArrayBuffer(1 << 19));
  const ends = [];
  let total = 0;
  paths.forEach((path, i) => {
    let fd;
    try {
      fd = fs.openSync(path, 'r');
      const stat = fs.fstatSync(fd);
      const end = total + stat.size;
      data = ensure(data, total, end);
      let length = total;
      while (length < end) {
        const n = fs.readSync(fd, data, length, end - length, length - total);
        if (n === 0) break;
        length += n;
      }
      if (pack === 'md5-cache') {
        // The entry's bytes stay: the packed table points into them.
        let n = packMd5Cache(data, total, length, packed, 0);
        if (n < 0) {
          packed = Buffer.alloc(Math.max(-n, 2 * packed.length));
          n = packMd5Cache(data, total, length, packed, 0);
        }
        data = ensure(data, length, length + n + 4);
        packed.copy(data, length, 0, n);
        data.writeUInt32LE(length - total, length + n);
        length += n + 4;
      } else if (pack === 'dists') {
        if (packed.length < 2 * (length - total) + 16) packed = Buffer.alloc(2 * (length - total) + 16);
        const n = packDistLines(data, total, length, packed, 0, PAIRS);
        data = ensure(data, total, total + n);
        packed.copy(data, total, 0, n);
        length = total + n;
      }
      total = length;
      ctimes[i] = stat.ctimeMs;
    } catch (error) {
      if (!missing(error)) errors.push([i, error.message]);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    ends.push(total);
  });
  parentPort.postMessage({ id, ctimes, ends, errors, buffer: data.buffer }, [data.buffer]);
});
`;

export interface ReaderReply {
  id: number;
  ctimes: number[];
  ends?: number[];
  errors: Array<[number, string]>;
  buffer?: ArrayBuffer;
}
