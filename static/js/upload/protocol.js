// The protocol client: the page's JSON requests to the portal, and the reports it must not lose, sent again patiently
// while the portal cannot be reached.
import { hideAlert, showAlert } from "./dialogs.js";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function postJSON(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    // fetch says only "Failed to fetch": the request never got an answer.
    const error = new Error("The portal could not be reached: check the connection, then try again.");
    error.status = 0;
    throw error;
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { error: `The portal answered ${response.status}.` };
  }
  if (!response.ok) {
    const error = new Error(data.error || `The portal answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// What the page tells the portal about files it sent, gave up on or cancelled must not be lost: while the portal cannot
// be reached (the connection dropped, the portal is restarting: no answer, 5xx, 408, 429) the report is sent again
// after growing pauses, and at once when the browser is back online, for up to REPORT_PATIENCE_MS. A refusal ends it.
const REPORT_PAUSES_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const REPORT_PATIENCE_MS = 60 * 60 * 1000;

function portalUnreachable(error) {
  return !error.status || error.status >= 500 || error.status === 408 || error.status === 429;
}

function pause(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

async function postPatiently(url, body, onWaiting) {
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await postJSON(url, body);
    } catch (error) {
      if (!portalUnreachable(error) || Date.now() - started > REPORT_PATIENCE_MS) throw error;
      onWaiting();
      await pause(REPORT_PAUSES_MS[Math.min(attempt, REPORT_PAUSES_MS.length - 1)]);
    }
  }
}

const RECONNECTING = "The connection to the portal was lost: what this page has sent is reported as soon as it is back.";

let reportsWaiting = 0; // reports to the portal waiting for the connection to come back

// A report the portal must get (see postPatiently); while one waits for the connection, the page says so.
export async function report(url, body) {
  let waited = false;
  try {
    return await postPatiently(url, body, () => {
      if (!waited) reportsWaiting += 1;
      waited = true;
      showAlert(RECONNECTING, "info");
    });
  } finally {
    const alert = document.querySelector("[data-upload-alert]");
    if (waited && --reportsWaiting === 0 && alert?.textContent === RECONNECTING) hideAlert();
  }
}
