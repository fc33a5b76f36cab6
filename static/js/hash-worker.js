// Computes the sha256 of dropped files off the main thread: the whole-file digest of WebCrypto for
// small files (fastest, but it needs the file in memory), hash-wasm's streaming SHA-256 above that.
import { createSHA256 } from "hash-wasm";

const WHOLE_FILE_LIMIT = 32 * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sha256(file) {
  if (file.size <= WHOLE_FILE_LIMIT) {
    return toHex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  }
  const hasher = await createSHA256();
  hasher.init();
  for (let offset = 0; offset < file.size; offset += CHUNK) {
    hasher.update(new Uint8Array(await file.slice(offset, offset + CHUNK).arrayBuffer()));
  }
  return hasher.digest("hex");
}

// One file at a time, in the order they arrive.
let queue = Promise.resolve();
self.onmessage = ({ data: { id, file } }) => {
  queue = queue.then(async () => {
    try {
      self.postMessage({ id, sha256: await sha256(file) });
    } catch (error) {
      self.postMessage({ id, error: `The file could not be read (${error.message}).` });
    }
  });
};
