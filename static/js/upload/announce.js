// What screen readers hear of an upload: the page's counts (this tab's transfer line, then the session's Ready, Upload
// errors and Duplicates skipped), read from the page itself and said through a polite live region when they changed,
// at most once per ANNOUNCE_INTERVAL_MS: a row-by-row account of 1,500 files would drown everything else.
const ANNOUNCE_INTERVAL_MS = 5000;

function summaryCount(summary, selector) {
  return Number(summary.querySelector(selector)?.textContent.replace(/,/g, "")) || 0;
}

function plural(count, one, many) {
  return `${count.toLocaleString("en-US")} ${count === 1 ? one : many}`;
}

// One sentence per count that matters: "Sent 12 of 40 files. 10 ready. 2 upload errors. 3 duplicates skipped."
export function uploadCounts() {
  const parts = [];
  const strip = document.querySelector("[data-transfer]");
  const title = strip && !strip.hidden && strip.querySelector("[data-transfer-title]")?.textContent;
  if (title) parts.push(title);
  const summary = document.getElementById("session-summary");
  if (summary) {
    const ready = summaryCount(summary, "[data-summary-ready]");
    const failed = summaryCount(summary, "[data-summary-errors]");
    const skipped = summaryCount(summary, "[data-summary-duplicates]");
    if (ready) parts.push(`${ready.toLocaleString("en-US")} ready`);
    if (failed) parts.push(plural(failed, "upload error", "upload errors"));
    if (skipped) parts.push(plural(skipped, "duplicate skipped", "duplicates skipped"));
    if (summary.dataset.sessionStatus === "complete") parts.push("The session is complete");
  }
  return parts.map((part) => `${part}.`).join(" ");
}

// Watches the counts while `region` is on the page; what the page showed when it opened is not announced.
export function announceCounts(region) {
  let said = uploadCounts();
  const timer = setInterval(() => {
    if (!region.isConnected) return clearInterval(timer);
    const now = uploadCounts();
    if (now === said) return;
    said = now;
    region.textContent = now;
  }, ANNOUNCE_INTERVAL_MS);
}
