// The upload page's messages to people: the alert above the table, the duplicates dialog and the two confirmations
// (cancel the files still uploading, finalize with failed files).

export function showAlert(message, kind = "error") {
  const alert = document.querySelector("[data-upload-alert]");
  if (!alert) return window.alert(message);
  alert.className = `alert alert-${kind}`;
  alert.textContent = message;
  alert.hidden = false;
}

export function hideAlert() {
  const alert = document.querySelector("[data-upload-alert]");
  if (alert) alert.hidden = true;
}

export function showDuplicates(records, dropped) {
  const dialog = document.querySelector("[data-duplicates-dialog]");
  if (!dialog) return;
  dialog.querySelector("[data-duplicates-count]").textContent =
    `${records.length} duplicate file${records.length === 1 ? " was" : "s were"} skipped`;
  const rest = dialog.querySelector("[data-duplicates-rest]");
  if (rest) rest.textContent = records.length < dropped ? "The other files are uploading." : "Nothing else was in this drop.";
  const list = dialog.querySelector("[data-duplicates-list]");
  list.replaceChildren(
    ...records.map((record) => {
      const item = document.createElement("li");
      item.textContent = `${record.name} — ${record.reason}`;
      return item;
    }),
  );
  if (!dialog.open) dialog.showModal();
}

// Cancel uploads asks first; `cancellable()` lists the files it would stop and `cancel` stops them.
export function offerCancelAll(cancellable, cancel) {
  const cancelDialog = document.querySelector("[data-cancel-dialog]");
  document.querySelector("[data-cancel-all]")?.addEventListener("click", () => {
    const count = cancellable().length;
    if (!count || !cancelDialog) return;
    cancelDialog.querySelector("[data-cancel-count]").textContent =
      `${count.toLocaleString("en-US")} file${count === 1 ? " has" : "s have"} not been sent yet.`;
    cancelDialog.returnValue = "";
    cancelDialog.showModal();
  });
  cancelDialog?.addEventListener("close", () => {
    if (cancelDialog.returnValue === "cancel") cancel(cancellable());
  });
}

// htmx asks before it sends the (boosted) form: send pending completions first (`flushCompletes`), then confirm failures.
export function confirmFinalize(flushCompletes) {
  const form = document.querySelector("[data-finalize-form]");
  form?.addEventListener("htmx:confirm", (event) => {
    event.preventDefault();
    flushCompletes().then(() => {
      const failed = document.querySelectorAll('#file-rows tr[data-status="upload_error"]').length;
      if (failed === 0) return event.detail.issueRequest(true);
      const dialog = document.querySelector("[data-finalize-dialog]");
      dialog.querySelector("[data-finalize-failed]").textContent = `${failed} failed file${failed === 1 ? "" : "s"}`;
      dialog.addEventListener(
        "close",
        () => {
          if (dialog.returnValue === "confirm") event.detail.issueRequest(true);
          // The session stays open: Finalize again once the retried files are through.
          else if (dialog.returnValue === "retry") document.querySelector("[data-retry-all]")?.click();
        },
        { once: true },
      );
      dialog.showModal();
    });
  });
}
