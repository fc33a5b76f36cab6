// Hashing: the sha256 of each dropped file, computed by a small pool of workers (hash-worker.js) off the main thread.

class HashPool {
  constructor(url, size) {
    this.pending = new Map();
    this.next = 0;
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(url, { type: "module" });
      worker.onmessage = ({ data }) => {
        const waiter = this.pending.get(data.id);
        this.pending.delete(data.id);
        if (data.error) waiter?.reject(new Error(data.error));
        else waiter?.resolve(data.sha256);
      };
      return worker;
    });
  }

  hash(id, file) {
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[this.next++ % this.workers.length].postMessage({ id, file });
    });
  }
}

let pool = null;

// The tab's one pool, started at its first drop.
export function hashPool() {
  if (!pool) {
    const url = document.body.dataset.hashWorker;
    pool = new HashPool(url, Math.max(1, Math.min(2, (navigator.hardwareConcurrency || 2) - 1)));
  }
  return pool;
}
