// Completion, failure and retry: files the engine sent are reported to the portal in batches, files it gave up on are
// reported failed, and Retry hands failed files to the engine again. `uploads` is the page's UploadManager (upload.js).
import { showAlert } from "./dialogs.js";
import { postJSON, report } from "./protocol.js";

// Completions go out at most this long after the first one waiting, in batches of at most this many (the page
// learns the verdicts from its poll, every 2 s by default, so a shorter wait would show nothing sooner).
const COMPLETE_DELAY_MS = 2000;
const COMPLETE_BATCH = 100;

export class Completions {
  constructor(uploads) {
    this.uploads = uploads;
    this.completeQueues = new Map(); // session id -> { ids, timer, url }
  }

  queueComplete(record) {
    const session = record.session;
    let queue = this.completeQueues.get(session.id);
    if (!queue) {
      queue = { ids: [], keys: {}, timer: 0, url: session.completeUrl, sending: Promise.resolve() };
      this.completeQueues.set(session.id, queue);
    }
    queue.ids.push(record.assetId);
    // Where it went: if another tab resumed the same file meanwhile, this transfer is no longer the file's.
    queue.keys[record.assetId] = record.key;
    // The last file of a run is not kept waiting for others that will not come.
    const lastOne = this.uploads.transfers.idle();
    if (queue.ids.length >= COMPLETE_BATCH || lastOne) this.sendCompletes(queue);
    else if (!queue.timer) queue.timer = setTimeout(() => this.sendCompletes(queue), COMPLETE_DELAY_MS);
    this.uploads.updateBadge();
  }

  sendCompletes(queue) {
    clearTimeout(queue.timer);
    queue.timer = 0;
    const ids = queue.ids.splice(0, queue.ids.length);
    const keys = queue.keys;
    queue.keys = {};
    if (ids.length) {
      const sent = report(queue.url, { assetIds: ids, keys })
        .then(() => {
          ids.forEach((id) => {
            const record = this.uploads.files.byAsset.get(id);
            if (record) record.reported = true;
          });
          this.uploads.updateBadge();
        })
        .catch((error) => showAlert(error.message));
      queue.sending = Promise.all([queue.sending, sent]);
    }
    return queue.sending;
  }

  // Completions are batched for a moment; Finalize sends what is waiting first.
  flushCompletes() {
    return Promise.all([...this.completeQueues.values()].map((queue) => this.sendCompletes(queue)));
  }

  markFailed(record, reason, tellPortal) {
    record.state = "failed";
    record.reason = `${reason} Retry to upload it again.`;
    this.uploads.touch(record);
    this.uploads.updateBadge();
    if (tellPortal && record.assetId) {
      report(record.session.failUrl, { failures: [{ assetId: record.assetId, reason }] }).catch(() => {});
    }
  }

  async retry(session, assetIds) {
    const { files, transfers } = this.uploads;
    const withFile = assetIds.filter((id) => files.byAsset.get(id)?.file);
    const withoutFile = assetIds.filter((id) => !files.byAsset.get(id)?.file);
    if (withFile.length) {
      try {
        const answer = await postJSON(session.retryUrl, { assetIds: withFile });
        const records = answer.files.map((instructions) => {
          const record = files.byAsset.get(instructions.assetId);
          record.session = session;
          return record;
        });
        files.joinRun(session, records);
        records.forEach((record, index) => this.uploads.assign(record, answer.files[index]));
        transfers.start(session, records);
      } catch (error) {
        showAlert(error.message);
      }
    }
    if (withoutFile.length) {
      // After a reload the browser no longer has the file: choosing it again resumes it (same content, same asset).
      showAlert(
        `Select ${withoutFile.length === 1 ? "the failed file" : `the ${withoutFile.length} failed files`} again to retry: this tab no longer holds ${withoutFile.length === 1 ? "it" : "them"}.`,
        "info",
      );
      document.querySelector("[data-file-input]")?.click();
    }
    this.uploads.updateBadge();
  }
}
