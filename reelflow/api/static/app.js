// reelflow viewer: plain JavaScript, no build step. Talks to /api/v1 with the user's token and
// follows progress on /ws/{user_id} (token sent as the first message, never in a URL).
"use strict";

const API = "/api/v1";
const STAGES = {
  voice: "Voice", words: "Word timing", voice_analysis: "Analysing the voice",
  captions: "Captions", background: "Background", music: "Music", effects: "Effects",
  render: "Rendering", stored: "Saving", batch: "Batch",
};
const FINAL = new Set(["completed", "failed", "crashed", "cancelled"]);
const $ = (id) => document.getElementById(id);
const state = { token: "", user: null, projectId: null, taskId: null, lastSeq: 0, socket: null };

function show(id, visible = true) { $(id).hidden = !visible; }
function say(text) { $("message").textContent = text || ""; }

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  const response = await fetch(API + path, { ...options, headers });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

const OPTION_SELECTS = "#render-form select[data-options]";

async function signIn(event) {
  event.preventDefault();
  say("");
  state.token = $("token").value.trim();
  try {
    state.user = await (await api("/me")).json();
  } catch (error) {
    say(`Sign-in failed: ${error.message}`);
    return;
  }
  // sessionStorage, not localStorage: the token is gone when the tab closes
  sessionStorage.setItem("reelflow-token", state.token);
  $("who").textContent = `${state.user.name} (${state.user.plan})`;
  await loadPresets();
  show("project");
  show("reels");
  loadReels();
  connect();
}

// Every choice comes from the server's preset tables: a name added there shows up here.
async function loadPresets() {
  const options = await (await api("/video/options")).json();
  for (const select of document.querySelectorAll(OPTION_SELECTS)) {
    const option = options[select.dataset.options];
    const names = option.choices.map((choice) => choice.name);
    const choices = option.choices.map(
      (choice) => new Option(`${choice.name} – ${choice.description}`, choice.name));
    // a first, empty choice sends nothing: the project, the look or the language decides
    if (select.dataset.empty) choices.unshift(new Option(select.dataset.empty, ""));
    select.replaceChildren(...choices);
    const preferred = select.dataset.default;  // the page's own pick, e.g. a fast preview quality
    if (names.includes(preferred)) select.value = preferred;
    else if (select.dataset.empty) select.value = "";
    else select.value = option.default ?? names[0];
  }
  showPreview();
}

// A still of the chosen caption look, drawn by the server as a reel's captions are.
const PREVIEW_INPUTS = ["caption_style", "aspect", "platform", "emphasis"];
let previewUrl = null;
async function showPreview() {
  const query = new URLSearchParams({ style: $("caption_style").value, aspect: $("aspect").value,
    platform: $("platform").value });
  if ($("emphasis").value) query.set("emphasis", $("emphasis").value);
  const asked = query.toString();
  $("caption-preview").dataset.asked = asked;
  try {
    const blob = await (await api(`/video/caption-preview?${asked}`)).blob();
    if ($("caption-preview").dataset.asked !== asked) return;  // a later choice won
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    $("caption-preview").src = previewUrl;
    $("caption-preview").dataset.shown = asked;
    $("preview-figure").querySelector("figcaption").textContent = "Caption look preview";
  } catch (error) {
    $("preview-figure").querySelector("figcaption").textContent = `No preview: ${error.message}`;
  }
}

async function createProject(event) {
  event.preventDefault();
  say("");
  const form = new FormData();
  form.append("title", $("title").value);
  const source = document.querySelector("input[name=source]:checked").value;
  if (source === "script") {
    form.append("script", $("script").value);
  } else {
    const file = $(source === "video" ? "talk-video" : "voiceover").files[0];
    if (file) form.append(source === "video" ? "video" : "voiceover", file);
    form.append("transcript", $("transcript").value);
  }
  if (source !== "video") for (const file of $("background").files) form.append("background", file);
  $("create-button").disabled = true;
  try {
    const project = await (await api("/projects", { method: "POST", body: form })).json();
    state.projectId = project.id;
    $("project-info").textContent = `Project ${project.id} created.`;
    show("trim-field", source !== "script");  // pauses are trimmed from uploaded voices only
    show("voice-field", source === "script");  // an uploaded voice is its own
    show("render");
  } catch (error) {
    say(`Could not create the project: ${error.message}`);
  } finally {
    $("create-button").disabled = false;
  }
}

async function start(event) {
  event.preventDefault();
  say("");
  const body = {};
  for (const select of document.querySelectorAll(OPTION_SELECTS)) {
    if (select.closest("[hidden]") || select.value === "") continue;  // not given: default
    body[select.id] = select.value;
  }
  for (const input of document.querySelectorAll("#render-form input[data-body]")) {
    if (input.dataset.body === "checkbox") { body[input.id] = input.checked; continue; }
    if (input.closest("[hidden]") || input.value.trim() === "") continue;  // not given: default
    body[input.id] = input.dataset.body === "number" ? Number(input.value) : input.value.trim();
  }
  const hook = $("hook-text").value.trim();
  if (hook) body.title = { text: hook, duration_s: Number($("hook-duration").value) || 2.5 };
  $("start-button").disabled = true;
  try {
    const response = await api(`/video/generate-advanced/${state.projectId}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const run = await response.json();
    state.taskId = run.task_id;
    state.lastSeq = 0;
    show("result", false);
    $("error").textContent = "";
    update({ status: run.status, stage: "", progress: 0 });
    show("progress-section");
    // the run may have moved before the socket saw it: ask for its whole history
    send({ task_id: state.taskId, after_seq: 0 });
    if (run.status === "queued") fetchQueue();
  } catch (error) {
    say(`Could not start: ${error.message}`);
    $("start-button").disabled = false;
  }
}

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/${state.user.id}`);
  state.socket = socket;
  socket.onopen = () => {
    socket.send(JSON.stringify({ token: state.token }));
    // after a reconnect, fetch what was missed meanwhile
    if (state.taskId) send({ task_id: state.taskId, after_seq: state.lastSeq });
  };
  socket.onmessage = (message) => {
    if (message.data === "ping") { socket.send("pong"); return; }
    if (message.data === "pong") return;
    const event = JSON.parse(message.data);
    if (event.type === "error") { say(event.detail); return; }
    if (event.type === "queue") { if (event.task_id === state.taskId) showQueue(event); return; }
    if (event.task_id !== state.taskId || (event.seq || 0) <= state.lastSeq) return;
    state.lastSeq = event.seq;
    update(event);
  };
  socket.onclose = (closed) => {
    if (closed.code === 4401 || closed.code === 4404) { say("The socket refused the token."); return; }
    setTimeout(connect, 1000);
  };
}

function showQueue(spot) {
  // where a waiting reel stands: sent by the server whenever its position or estimate changes
  const at = new Date(spot.expected_start).toLocaleTimeString();
  $("queue").textContent = spot.position
    ? `#${spot.position} of ${spot.waiting} waiting · expected to start about ${at}`
    : `scheduled · starts at ${at}`;
}

async function fetchQueue() {
  try {
    const status = await (await api(`/video/task-status/${state.taskId}`)).json();
    if (status.status === "queued" && status.queue) showQueue(status.queue);
  } catch (error) { /* the socket will tell */ }
}

function update(event) {
  if (event.status !== "queued") $("queue").textContent = "";
  const percent = Math.round(event.progress || 0);
  $("bar").value = percent;
  $("percent").textContent = percent;
  const stage = STAGES[event.stage] || event.stage;
  $("stage").textContent = event.status === "running" && stage ? stage : event.status;
  if (event.status === "completed") finished();
  if (FINAL.has(event.status) && event.status !== "completed") {
    $("error").textContent = `${event.status}: ${event.error || ""}`;
    $("start-button").disabled = false;
  }
}

// The user's past reels, newest first: poster, status, and a button that plays the reel.
async function loadReels() {
  let reels;
  try {
    reels = await (await api("/video/reels")).json();
  } catch (error) {
    say(`Could not list your reels: ${error.message}`);
    return;
  }
  const items = [];
  for (const reel of reels) {
    const item = document.createElement("li");
    item.className = "reel";
    item.dataset.taskId = reel.task_id;
    const when = new Date(reel.created_at).toLocaleString();
    const label = document.createElement("span");
    label.textContent = `${when} · ${reel.status}`;
    if (reel.output) {
      const poster = document.createElement("img");
      poster.alt = `poster of ${reel.task_id}`;
      poster.width = 90;
      blobUrl(reel.output.poster).then((url) => { poster.src = url; }).catch(() => {});
      const play = document.createElement("button");
      play.type = "button";
      play.textContent = "Play";
      play.addEventListener("click", () => playReel(reel, poster.src));
      item.append(poster, label, play);
    } else {
      item.append(label);
    }
    items.push(item);
  }
  $("reel-list").replaceChildren(...items);
}

// <img>/<video> cannot send the token: fetch the file and show it as a blob
async function blobUrl(url) {
  const path = url.startsWith(API) ? url.slice(API.length) : url;
  return URL.createObjectURL(await (await api(path)).blob());
}

async function playReel(reel, poster) {
  try {
    const player = $("reel-player");
    player.poster = poster || "";
    player.src = await blobUrl(reel.output.video);
    player.dataset.taskId = reel.task_id;
    show("reel-player");
    player.play().catch(() => {});  // autoplay may be refused; the controls are there
  } catch (error) {
    say(`Could not play the reel: ${error.message}`);
  }
}

async function finished() {
  $("start-button").disabled = false;
  loadReels();
  try {
    // <video src> cannot send the token, so fetch the files and show them as blobs
    const base = `/video/${state.taskId}/download`;
    const video = URL.createObjectURL(await (await api(base)).blob());
    const poster = URL.createObjectURL(await (await api(`${base}?file=poster`)).blob());
    $("video").poster = poster;
    $("video").src = video;
    $("download").href = video;
    $("download").download = `reel-${state.taskId}.mp4`;
    $("poster").href = poster;
    showRenditions();
    show("result");
  } catch (error) {
    say(`Could not fetch the video: ${error.message}`);
  }
}

// Every aspect the reel was rendered in, each a download (fetched with the token on click).
async function showRenditions() {
  const status = await (await api(`/video/task-status/${state.taskId}`)).json();
  const links = Object.entries(status.renditions || {}).map(([aspect, url]) => {
    const link = document.createElement("a");
    link.href = "#";
    link.textContent = `${aspect} mp4`;
    link.dataset.aspect = aspect;
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const save = document.createElement("a");
      save.href = await blobUrl(url);
      save.download = `reel-${state.taskId}-${aspect.replace(":", "x")}.mp4`;
      save.click();
    });
    return link;
  });
  const listed = links.flatMap((link, i) => (i ? [" · ", link] : [link]));
  $("renditions").replaceChildren(...(links.length > 1 ? ["Every aspect: ", ...listed] : []));
}

for (const id of PREVIEW_INPUTS) $(id).addEventListener("change", showPreview);
document.querySelectorAll("input[name=source]").forEach((radio) => radio.addEventListener(
  "change", () => {
    if (!radio.checked) return;
    show("voice-fields", radio.value === "voice");
    show("video-fields", radio.value === "video");
    show("transcript", radio.value !== "script");
    show("background-field", radio.value !== "video");  // a video is its own background
    $("script").hidden = radio.value !== "script";
  }));
$("refresh-reels").addEventListener("click", loadReels);
$("token-form").addEventListener("submit", signIn);
$("project-form").addEventListener("submit", createProject);
$("render-form").addEventListener("submit", start);
localStorage.removeItem("reelflow-token"); // left there by older versions of this page
$("token").value = sessionStorage.getItem("reelflow-token") || "";
