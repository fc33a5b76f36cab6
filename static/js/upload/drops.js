// Adding files: a drop is checksummed, then registered with the portal in parts as its checksums finish, and the files
// the portal takes are handed to the transfer engine. `uploads` is the page's UploadManager (upload.js).
import { cancelOnServer } from "./cancel.js";
import { hideAlert, showAlert, showDuplicates } from "./dialogs.js";
import { hashPool } from "./hashing.js";
import { postJSON } from "./protocol.js";
import { showCounts } from "./rows.js";

// A file whose name, or the name of a folder it was found in, starts with a dot (.DS_Store, .git/…): not an asset.
export function isHidden(file) {
  const path = file.webkitRelativePath || file.relativePath || file.name;
  return path.split("/").some((part) => part.startsWith("."));
}

export async function addFiles(uploads, session, fileList) {
  const files = Array.from(fileList).filter((file) => file.size !== undefined);
  hideAlert();
  if (!files.length) return;
  if (files.length > session.limits.perDrop) {
    showAlert(
      `${files.length} files were added at once; add at most ${session.limits.perDrop} at a time, then the next ones. Nothing from this drop was added.`,
    );
    return;
  }
  const records = uploads.files.create(session, files);
  uploads.files.joinRun(session, records);
  uploads.rows.renderNewRows(records);
  uploads.updateBadge();

  // The drop is registered in parts as checksums finish, whenever the transfers are about to run out of
  // files: the first files start moving while the others are still being read (a drop of large videos
  // would otherwise wait for every checksum), and a drop of small files still goes in a request or two.
  // Its first part keeps room in the session for the whole drop, or the whole drop is refused.
  if (!uploads.transfers.uppy) uploads.transfers.concurrency = session.limits.concurrency;
  const drop = { id: uploads.files.nextId("d"), size: records.length };
  const parts = {
    hashed: [], sending: false, allHashed: false, registered: 0, refused: false, duplicates: [], announced: false, giveBack: 0,
  };
  records.forEach((record) => (record.drop = { drop, parts }));
  let finished;
  const done = new Promise((resolve) => (finished = resolve));
  const send = () => {
    if (parts.sending) return;
    if (parts.refused || (parts.allHashed && !parts.hashed.length)) {
      uploads.transfers.registering.delete(send);
      return finished();
    }
    if (!parts.hashed.length || (!parts.allHashed && !uploads.transfers.runningLow())) return;
    const batch = parts.hashed.splice(0).filter(({ record }) => record.state !== "cancelled");
    if (!batch.length) return send();
    parts.sending = true;
    parts.announced = true;
    registerPart(uploads, session, drop, records, batch, parts).finally(() => {
      parts.sending = false;
      send();
    });
  };
  uploads.transfers.registering.add(send);
  const hashes = hashPool();
  await Promise.all(
    records.map((record) =>
      hashes.hash(record.cid, record.file).then(
        (sha256) => {
          if (parts.refused || record.state === "cancelled") return;
          parts.hashed.push({ record, sha256 });
          send();
        },
        (error) => {
          if (record.state === "cancelled") return;
          record.state = "refused";
          record.reason = error.message;
          uploads.touch(record);
        },
      ),
    ),
  );
  parts.allHashed = true;
  send();
  await done;
  if (parts.duplicates.length) showDuplicates(parts.duplicates, records.length);
  uploads.updateBadge();
}

async function registerPart(uploads, session, drop, records, batch, parts) {
  if (parts.refused) return;
  batch.forEach(({ record }) => {
    record.state = "registering";
    uploads.touch(record);
  });
  let answer;
  try {
    answer = await postJSON(session.registerUrl, {
      drop,
      files: batch.map(({ record, sha256 }) => {
        // A file of the session still Uploading with this content is resumed, unless this tab or another tab of this
        // browser is sending it (registering it, or sent it and the portal is checking what arrived): then this one
        // is a duplicate.
        const resume = !uploads.files.sendingHere(session, sha256) && !uploads.tabs.sendingInAnotherTab(session, sha256);
        record.sha256 = sha256;
        if (resume) uploads.files.bySha.set(`${session.id} ${sha256}`, record);
        return { clientId: record.cid, name: record.name, size: record.size, contentType: record.type, sha256, resume };
      }),
    });
  } catch (error) {
    if (!parts.registered) {
      // The first part was refused, so the whole drop was and nothing was added: say why and take its rows away.
      parts.refused = true;
      records.forEach((record) => uploads.forget(record));
      showAlert(error.message);
    } else {
      // A later part could not be added (the session was finalized meanwhile, the connection failed): its files say why.
      batch.forEach(({ record }) => {
        record.state = "refused";
        record.reason = error.message;
        record.file = null;
        uploads.touch(record);
      });
    }
    return uploads.updateBadge();
  }
  const unsent = parts.registered ? [] : [{ id: drop.id, files: parts.giveBack }].filter((entry) => entry.files);
  parts.registered += batch.length;
  const toUpload = [];
  const cancelledOnTheWay = [];
  const sent = new Map(batch.map(({ record }) => [record.cid, record]));
  for (const result of answer.files) {
    const record = sent.get(result.clientId);
    if (!record) continue;
    if (result.outcome !== "upload") uploads.files.forgetContent(record);
    if (record.state === "cancelled") {
      if (result.outcome === "upload") cancelledOnTheWay.push(result.assetId);
    } else if (result.outcome === "upload") {
      uploads.assign(record, result);
      toUpload.push(record);
    } else if (result.outcome === "duplicate") {
      record.state = "duplicate";
      record.reason = result.reason;
      record.file = null;
      parts.duplicates.push(record);
      uploads.touch(record);
    } else {
      record.state = "refused";
      record.reason = result.reason;
      record.file = null;
      uploads.touch(record);
    }
  }
  uploads.transfers.start(session, toUpload);
  uploads.updateBadge();
  showCounts(session, answer);
  if (cancelledOnTheWay.length || unsent.length) cancelOnServer(session, cancelledOnTheWay, unsent);
}
