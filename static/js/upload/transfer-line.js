// The transfer line above the table: how far the files this tab is sending together (its run) have got, how fast, and
// how long is left.
import { ACTIVE } from "./records.js";
import { formatDuration, formatSize, pageSessionId } from "./rows.js";

// The overall rate is taken over this long a window: long enough to smooth out files starting and ending.
const RATE_WINDOW_MS = 8000;
const RATE_MIN_MS = 2000;
// The line is repainted at most this often while files move: repainting it with the rows (5 times a second, an
// animated bar always in view) cost Chromium about a fifth more CPU over a 1,500-file upload (bench/upload.py).
const TRANSFER_PAINT_MS = 1000;

// Takes the tab's FileRecords: its current run, and the records that belong to it.
export function paintTransferLine({ run, records }) {
  const strip = document.querySelector("[data-transfer]");
  if (!strip) return;
  if (!run || run.sessionId !== pageSessionId()) {
    strip.hidden = true;
    return;
  }
  let files = 0, sent = 0, failed = 0, moving = 0, preparing = 0, bytesTotal = 0, bytesSent = 0;
  for (const record of records.values()) {
    if (record.run !== run.id || record.state === "duplicate" || record.state === "refused") continue;
    files += 1;
    if (record.state === "hashing" || record.state === "registering") preparing += 1;
    if (record.state === "failed") {
      failed += 1;
      continue;
    }
    bytesTotal += record.size;
    if (ACTIVE.has(record.state)) {
      moving += 1;
      bytesSent += record.state === "uploading" ? record.progress * record.size : 0;
    } else {
      sent += 1;
      bytesSent += record.size;
    }
  }
  if (!files && run.cancelled) {
    // Every file of the run was cancelled: say so, rather than take the line away with the rows.
    strip.hidden = false;
    strip.querySelector("[data-cancel-all]")?.setAttribute("hidden", "");
    strip.querySelector("[data-transfer-title]").textContent = `Cancelled ${run.cancelled.toLocaleString("en-US")} file${run.cancelled === 1 ? "" : "s"}`;
    strip.querySelector("[data-transfer-detail]").textContent = "Nothing of them stays in this session.";
    strip.querySelector(".progress").hidden = true;
    return;
  }
  if (!files) {
    strip.hidden = true;
    return;
  }
  strip.querySelector(".progress").hidden = false;
  const now = performance.now();
  if (moving && now - (run.paintedAt || 0) < TRANSFER_PAINT_MS) return;
  run.paintedAt = now;
  run.samples.push([now, bytesSent]);
  while (run.samples.length > 2 && now - run.samples[1][0] > RATE_WINDOW_MS) run.samples.shift();
  const [since, bytesThen] = run.samples[0];
  const rate = now - since >= RATE_MIN_MS ? ((bytesSent - bytesThen) * 1000) / (now - since) : 0;
  let failures = failed ? ` · ${failed.toLocaleString("en-US")} failed` : "";
  if (run.cancelled) failures += ` · ${run.cancelled.toLocaleString("en-US")} cancelled`;
  let title;
  let detail;
  if (preparing && !bytesSent) {
    title = `Preparing ${files.toLocaleString("en-US")} file${files === 1 ? "" : "s"}`;
    detail = `${formatSize(bytesTotal)} · computing checksums and checking for duplicates`;
  } else if (moving) {
    run.ended = 0;
    title = `Sent ${sent.toLocaleString("en-US")} of ${(files - failed).toLocaleString("en-US")} file${files - failed === 1 ? "" : "s"}`;
    detail = `${formatSize(Math.round(bytesSent))} of ${formatSize(bytesTotal)}`;
    if (!navigator.onLine) detail += " · no connection: the files go on when it is back";
    else if (rate > 0) detail += ` · ${formatSize(Math.round(rate))}/s · about ${formatDuration((bytesTotal - bytesSent) / rate)} left`;
  } else {
    run.ended ||= now;
    title = `Sent ${sent.toLocaleString("en-US")} file${sent === 1 ? "" : "s"}`;
    detail = `${formatSize(bytesTotal)} in ${formatDuration((run.ended - run.started) / 1000)}`;
  }
  strip.hidden = false;
  const cancelAll = strip.querySelector("[data-cancel-all]");
  if (cancelAll) cancelAll.hidden = !moving;
  strip.querySelector("[data-transfer-title]").textContent = title;
  strip.querySelector("[data-transfer-detail]").textContent = detail + failures;
  const bar = strip.querySelector(".progress");
  const share = bytesTotal ? bytesSent / bytesTotal : 1;
  bar.setAttribute("aria-valuenow", String(Math.round(share * 100)));
  bar.firstElementChild.style.transform = `scaleX(${share})`;
  bar.firstElementChild.className = moving ? "" : "is-done";
}
