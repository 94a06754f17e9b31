// Ticket form: suggest a category after a pause in typing; the user always has the last word.
//
// The rules (the same pattern the Android and iOS guides use):
//   * wait DEBOUNCE_MS (1.5 s) after the last keystroke, and only ask once the text has at least
//     MIN_CHARS (20) non-blank characters;
//   * every keystroke aborts the in-flight request (AbortController), so a stale answer never shows;
//   * decision "needs_review" shows a manual picker (nothing preselected) instead of forcing a label;
//   * once the user picks a category, later suggestions never overwrite it.
(function () {
  "use strict";
  const form = document.getElementById("ticket-form");
  const text = document.getElementById("description");
  const subject = document.getElementById("subject");
  const statusEl = document.getElementById("status");
  const block = document.getElementById("category-block");
  const suggestion = document.getElementById("suggestion");
  const suggestedLabel = document.getElementById("suggested-label");
  const suggestedScore = document.getElementById("suggested-score");
  const manualHint = document.getElementById("manual-hint");
  const select = document.getElementById("category");
  const submit = document.getElementById("submit");
  const result = document.getElementById("result");

  const DEBOUNCE_MS = Number(form.dataset.debounceMs) || 1500;
  const MIN_CHARS = Number(form.dataset.minChars) || 20;
  // Empty while the admin has not opened the form to the public (form_public_origins): then the
  // service refuses suggestions and submissions without an API key, and the page says so.
  let token = document.querySelector('meta[name="triage-form-token"]').content;
  const CLOSED = "This form is not open to the public yet: suggestions and submitting are off.";
  let timer = null;        // pending debounce timer
  let inflight = null;     // AbortController of the request in flight
  let suggested = null;    // last suggested label (null: none, or needs_review)
  let userPicked = false;  // the user chose a category themselves

  function setStatus(msg) { statusEl.textContent = msg; }
  function longEnough() { return text.value.trim().length >= MIN_CHARS; }
  function refreshSubmit() { submit.disabled = !(longEnough() && select.value); }

  text.addEventListener("input", function () {
    clearTimeout(timer);
    if (inflight) { inflight.abort(); inflight = null; }  // a newer keystroke makes it stale
    refreshSubmit();
    if (!token) { setStatus(CLOSED); return; }
    if (!longEnough()) {
      setStatus("Type at least " + MIN_CHARS + " characters for a suggestion.");
      return;
    }
    setStatus("");
    timer = setTimeout(suggest, DEBOUNCE_MS);
  });

  select.addEventListener("change", function () { userPicked = select.value !== ""; refreshSubmit(); });

  async function classify(body, signal) {
    const call = () => fetch(form.dataset.classifyUrl, {
      method: "POST", signal: signal, body: JSON.stringify(body),
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    });
    let resp = await call();
    if (resp.status === 401) {  // token expired while the page was open: fetch a fresh one, once
      const fresh = await fetch(form.dataset.tokenUrl, { signal: signal });
      if (fresh.ok) { token = (await fresh.json()).token; resp = await call(); }
    }
    return resp;
  }

  async function suggest() {
    const sent = text.value;
    const ctrl = new AbortController();
    inflight = ctrl;
    setStatus("Finding a category…");
    try {
      const resp = await classify({ inputs: sent }, ctrl.signal);
      const data = await resp.json();
      if (ctrl.signal.aborted) return;  // superseded while we read the body
      if (!resp.ok) { setStatus("No suggestion (" + (data.error || resp.status) + ")."); showPicker(null); return; }
      show(data.details[0], sent);
    } catch (err) {
      if (err.name === "AbortError") return;  // a newer keystroke took over
      setStatus("No suggestion (network error).");
      showPicker(null);
    } finally {
      if (inflight === ctrl) inflight = null;
    }
  }

  function show(detail, sent) {
    block.hidden = false;
    block.dataset.forLength = String(sent.length);  // which text this answer belongs to
    block.dataset.decision = detail.decision;
    setStatus("");
    if (detail.decision === "needs_review") { showPicker(detail); return; }
    suggested = detail.label;
    suggestion.hidden = false;
    manualHint.hidden = true;
    suggestedLabel.textContent = detail.label;
    suggestedScore.textContent = "(" + Math.round(detail.score * 100) + "% sure)";
    if (!userPicked) select.value = detail.label;
    refreshSubmit();
  }

  function showPicker(detail) {
    block.hidden = false;
    suggested = null;
    suggestion.hidden = true;
    manualHint.hidden = false;
    if (!userPicked) select.value = "";
    block.dataset.decision = detail ? detail.decision : "error";
    refreshSubmit();
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    result.className = "";
    result.textContent = "Sending…";
    try {
      const resp = await fetch(form.dataset.submitUrl, {
        method: "POST",
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: JSON.stringify({ subject: subject.value, description: text.value,
                               category: select.value, suggested: suggested }),
      });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.error || String(resp.status));
      result.textContent = "Ticket #" + data.ticket_id + " created as " + data.category + ".";
      result.dataset.ticketId = data.ticket_id;
    } catch (err) {
      result.className = "error";
      result.textContent = "Could not create the ticket: " + err.message;
      submit.disabled = false;
    }
  });
})();
