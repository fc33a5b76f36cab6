// The cross-tab channel: the tabs of the portal in one browser tell each other (BroadcastChannel) which files they are
// sending, so that each shows the others' files as moving and counts them in its header.
import { paintLater } from "./rows.js";
import { ACTIVE, isBusy } from "./records.js";

// Tabs of the portal in one browser tell each other which files they are sending, this often; a tab not heard from
// for TAB_SILENT_MS was closed or stopped sending.
const TAB_REPORT_MS = 1000;
const TAB_SILENT_MS = 3500;

export class TabChannel {
  // `files` is this tab's FileRecords; `onChange` repaints the header count when what the other tabs send changes.
  constructor(files, onChange) {
    this.files = files;
    this.onChange = onChange;
    // What the other tabs of this browser are sending: tab id -> { at, sessionUrl, count,
    // files: Map(asset id -> progress, -1 while waiting for a connection), contents: Set("session sha256") }.
    this.tabId = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    this.otherTabs = new Map();
    this.doneTabs = new Set(); // tabs that finished sending: what they sent was reported to the portal
    this.reporting = 0; // the interval of this tab's own reports, while it sends
    this.checkingTabs = 0; // the timer that notices another tab going quiet
    this.showOtherTabsSoon = paintLater(() => this.showOtherTabs());
    if ("BroadcastChannel" in window) {
      this.channel = new BroadcastChannel("portal-uploads");
      this.channel.onmessage = ({ data }) => this.heardFrom(data);
      this.channel.postMessage({ tab: this.tabId, hello: true }); // tabs already sending report at once
    }
  }

  // moving (rather than offering to remove them, or to add them again), and every tab's header counts them.
  reportToOtherTabs() {
    if (!this.channel) return;
    const files = [];
    let count = 0;
    let sessionUrl = "";
    for (const record of this.files.records.values()) {
      const sent = record.state === "verifying";
      if (record.assetId && (sent || ACTIVE.has(record.state))) {
        // Progress, or -1 for a file still waiting for a connection.
        const progress = sent ? 1 : record.state === "queued" ? -1 : record.progress;
        files.push([record.assetId, progress, `${record.session.id} ${record.sha256}`]);
      }
      if (!isBusy(record)) continue;
      count += 1;
      sessionUrl ||= record.session.url;
    }
    this.channel.postMessage({ tab: this.tabId, count, sessionUrl, files });
    if (!count) {
      clearInterval(this.reporting);
      this.reporting = 0;
    }
  }

  startReporting() {
    if (this.channel && !this.reporting) {
      this.reporting = setInterval(() => this.reportToOtherTabs(), TAB_REPORT_MS);
      this.reportToOtherTabs();
    }
  }

  heardFrom({ tab, hello, count, sessionUrl, files, gone }) {
    if (!tab || tab === this.tabId) return;
    if (hello) {
      if (this.files.active()) this.reportToOtherTabs();
      return;
    }
    if (count) {
      const contents = new Set(files.map(([, , content]) => content));
      this.otherTabs.set(tab, { at: Date.now(), count, sessionUrl, files: new Map(files), contents });
    } else {
      this.otherTabs.delete(tab);
      if (!gone) this.doneTabs.add(tab);
    }
    this.showOtherTabsSoon();
    this.onChange();
  }

  // The other tabs still heard from (a tab closed while sending goes quiet: what it was sending is not moving).
  // Returns their last reports.
  liveOtherTabs() {
    const now = Date.now();
    for (const [tab, heard] of this.otherTabs) if (now - heard.at > TAB_SILENT_MS) this.otherTabs.delete(tab);
    if (this.otherTabs.size && !this.checkingTabs) {
      this.checkingTabs = setTimeout(() => {
        this.checkingTabs = 0;
        this.showOtherTabs();
        this.onChange();
      }, TAB_SILENT_MS);
    }
    return [...this.otherTabs.values()];
  }

  // Rows of files another tab is sending show its progress; once it goes quiet they are back as the portal rendered them.
  showOtherTabs() {
    this.liveOtherTabs();
    const sending = new Map();
    for (const [tab, heard] of this.otherTabs) for (const [assetId, progress] of heard.files) sending.set(assetId, [tab, progress]);
    for (const row of document.querySelectorAll('#file-rows > tr[data-status="uploading"][data-asset-id]')) {
      const assetId = row.dataset.assetId;
      if (this.files.byAsset.has(assetId)) continue;
      if (!sending.has(assetId)) {
        // A file the other tab sent is the portal's to check, and the next poll brings its verdict; unless that tab
        // went away before telling the portal, or was still sending it.
        const from = row.dataset.otherTabId;
        const told = row.dataset.otherTab === "sent" && (this.otherTabs.has(from) || this.doneTabs.has(from));
        if (row.dataset.otherTab && !told) this.restoreRow(row);
        continue;
      }
      const [tab, progress] = sending.get(assetId);
      if (!row.dataset.otherTab) row.dataset.serverReason = row.cells[4].innerHTML;
      const state = progress >= 1 ? "sent" : progress < 0 ? "waiting" : "sending";
      row.dataset.otherTab = state;
      row.dataset.otherTabId = tab;
      row.querySelector(".progress > span").style.transform = `scaleX(${Math.max(progress, 0)})`;
      row.querySelector(".progress").setAttribute("aria-valuenow", String(Math.round(Math.max(progress, 0) * 100)));
      row.cells[4].textContent = {
        sent: "Sent from another tab; checking what storage received",
        waiting: "Waiting for a free connection in another tab",
        sending: "Being sent from another tab",
      }[state];
      const remove = row.querySelector("[data-remove]");
      if (remove) remove.hidden = true;
    }
  }

  restoreRow(row) {
    row.cells[4].innerHTML = row.dataset.serverReason || "";
    row.querySelector(".progress > span").style.transform = "scaleX(0)";
    row.querySelector(".progress").setAttribute("aria-valuenow", "0");
    const remove = row.querySelector("[data-remove]");
    if (remove) remove.hidden = false;
    delete row.dataset.otherTab;
    delete row.dataset.otherTabId;
    delete row.dataset.serverReason;
  }

  sendingInAnotherTab(session, sha256) {
    return this.liveOtherTabs().some((heard) => heard.contents.has(`${session.id} ${sha256}`));
  }

  // This tab is going away: it has stopped sending (gone: it had not finished).
  sayGoodbye() {
    this.channel?.postMessage({ tab: this.tabId, count: 0, files: [], gone: this.files.active() > 0 });
  }
}
