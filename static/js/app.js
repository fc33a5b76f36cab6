// The portal's one bundle: htmx for server-rendered fragments, plus the small glue the pages need.
import htmx from "htmx.org";
import { mountUploads, uploads } from "./upload.js";

window.htmx = htmx;
// For people and tests who want to look at the transfer state from the console.
window.portalUploads = uploads;

// The Add Assets drawer is a modal dialog: while it is open the page behind it is inert (Tab stays in the panel), the
// panel takes the focus (its first field, or the first one in error), and closing it gives the focus back to the link
// that opened it.
let drawerOpener = null;
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.target?.id === "drawer-root") drawerOpener = event.detail.elt;
});
function holdDrawer() {
  const panel = document.getElementById("drawer-root")?.firstElementChild;
  for (const part of [document.querySelector("header.topbar"), document.getElementById("main")]) if (part) part.inert = Boolean(panel);
  if (!panel || panel.contains(document.activeElement)) return;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "true");
  const heading = panel.querySelector("h2");
  if (heading) panel.setAttribute("aria-labelledby", (heading.id ||= "drawer-title"));
  const field = panel.querySelector(".has-error :is(input, select, textarea)") || panel.querySelector("input:not([type=hidden]), select, textarea");
  field?.focus();
}

// The drawer's root goes back to empty (not just without its panel: the whitespace around it would keep the
// root, and its dimmed backdrop, over the page).
function closeDrawer() {
  const root = document.getElementById("drawer-root");
  const wasOpen = Boolean(root?.firstElementChild);
  root?.replaceChildren();
  holdDrawer();
  if (wasOpen && drawerOpener?.isConnected) drawerOpener.focus();
}

// Close flash messages and drawers without a round trip (links keep their href for no-JS use).
document.addEventListener("click", (event) => {
  const dismiss = event.target.closest("[data-dismiss]");
  const target = dismiss && dismiss.closest(dismiss.dataset.dismiss);
  if (target) {
    event.preventDefault();
    if (target.parentElement?.id === "drawer-root") closeDrawer();
    else target.remove();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  closeDrawer();
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});
// An opened menu loads its entries (its panel's hx-trigger="menu-opened": a trigger filter would need eval, which
// the CSP refuses). A closed one drops them: opened again, it says it is loading rather than show stale entries.
document.addEventListener(
  "toggle",
  (event) => {
    const panel = event.target.matches?.("details.menu") && event.target.querySelector(".menu-panel");
    if (!panel) return;
    if (event.target.open) htmx.trigger(panel, "menu-opened");
    else panel.innerHTML = '<div class="menu-empty">Loading…</div>';
  },
  true,
);
// A menu (<details class="menu">) closes when people click outside it or follow one of its links.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target) || event.target.closest(".menu-panel a")) menu.open = false;
  }
});
document.addEventListener("click", (event) => {
  if (event.target.id === "drawer-root") closeDrawer();
});

// A select or checkbox in a filter form submits it at once (the form carries hx-get).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.matches("select, input[type=checkbox], input[type=date]")) htmx.trigger(form, "submit");
});

// Forms marked data-require-filled keep their submit button disabled until every field has a value.
function syncRequired(form) {
  const fields = [...form.querySelectorAll("input:not([type=hidden]):not([type=radio]), select, textarea")];
  const radios = new Set([...form.querySelectorAll("input[type=radio]")].map((radio) => radio.name));
  const filled =
    fields.every((field) => field.value.trim() !== "") &&
    [...radios].every((name) => form.querySelector(`input[name="${name}"]:checked`));
  const button = form.querySelector("[type=submit]");
  if (button) button.disabled = !filled;
}
document.addEventListener("input", (event) => {
  const form = event.target.closest("form[data-require-filled]");
  if (form) syncRequired(form);
});
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-require-filled]");
  if (form) syncRequired(form);
});

function onPage() {
  document.querySelectorAll("form[data-require-filled]").forEach(syncRequired);
  holdDrawer();
  mountUploads();
}
document.addEventListener("DOMContentLoaded", onPage);
document.addEventListener("htmx:afterSettle", onPage);
if (document.readyState !== "loading") onPage();

// While this page sends files of its session, its polls say so: the rows it registered are not sent back to it.
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.elt?.id !== "session-poller") return;
  const session = document.querySelector("[data-upload-session]")?.dataset.uploadSession;
  if (session && uploads.active(session) > 0) event.detail.parameters.sending = "1";
});

// Polled rows are applied by the upload glue in one pass (htmx's own out-of-band swaps of many rows cost
// one event per row per row), then the table-wide checks run once.
// (beforeSwap: the poller is replaced by the answer's own, and a detached element's events reach no one.)
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.elt?.id !== "session-poller" || event.detail.isError) return;
  uploads.applyServerRows(event.detail.xhr.responseText);
});
