// Plays the bundled demo call through the real audio socket, in real time: the mono recording is
// split into a 2-channel stream (0 customer, 1 agent) by the turn timings in call.json, and sent as
// 20 ms PCM16 frames paced against performance.now(), then `stop`.

import { openSocket } from "./api.js";

const FRAME_MS = 20;
// Relative to this module, so the widget works wherever the server mounts it.
const BASE = new URL("../demo/", import.meta.url);

/** PCM16 samples of a WAV file (finds the data chunk; only mono 16-bit is bundled). */
export function parseWav(buffer) {
  const view = new DataView(buffer);
  const tag = (at) => String.fromCharCode(...new Uint8Array(buffer, at, 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let format = null;
  for (let at = 12; at + 8 <= buffer.byteLength;) {
    const size = view.getUint32(at + 4, true);
    if (tag(at) === "fmt ") {
      format = {
        channels: view.getUint16(at + 10, true),
        rate: view.getUint32(at + 12, true),
        bits: view.getUint16(at + 22, true),
      };
    } else if (tag(at) === "data") {
      if (!format || format.bits !== 16 || format.channels !== 1) throw new Error("expected mono PCM16");
      const samples = new Int16Array(buffer.slice(at + 8, at + 8 + size));
      return { rate: format.rate, samples };
    }
    at += 8 + size + (size % 2);
  }
  throw new Error("WAV without data");
}

/** Interleave mono speech into [customer, agent] by who speaks when. */
export function toStereo(samples, rate, turns, channels) {
  const stereo = new Int16Array(samples.length * 2);
  for (const turn of turns) {
    const channel = channels[turn.speaker] ?? 0;
    const from = Math.max(0, Math.floor(turn.start * rate));
    const to = Math.min(samples.length, Math.ceil(turn.end * rate));
    for (let i = from; i < to; i++) stereo[2 * i + channel] = samples[i];
  }
  return stereo;
}

export class DemoPlayer {
  /** @param {{onProgress: (done: number, total: number) => void, onError: (e: object) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.socket = null;
    this.timer = null;
    this.running = false;
  }

  async load() {
    const meta = await (await fetch(new URL("call.json", BASE))).json();
    const wav = parseWav(await (await fetch(new URL(meta.audio ?? "call.wav", BASE))).arrayBuffer());
    const stereo = toStereo(wav.samples, wav.rate, meta.turns, meta.channels ?? { customer: 0, agent: 1 });
    return { meta, rate: wav.rate, stereo };
  }

  /** Open the audio socket and send `start`; resolves once streaming has begun. */
  /** speed > 1 sends faster than real time (?demo_speed=N; for tests and fast machines). */
  async play(callId, { meta, rate, stereo }, onDone, speed = 1) {
    const socket = openSocket(`/ws/calls/${encodeURIComponent(callId)}/audio`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.onDone = onDone;
    this.running = true;
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("audio socket failed"));
    });
    socket.onmessage = (msg) => {
      try {
        const event = JSON.parse(msg.data);
        if (event.type === "error") this.hooks.onError(event);
      } catch {
        this.hooks.onError({ code: "bad_json", message: String(msg.data).slice(0, 200) });
      }
    };
    socket.onclose = () => this.#finish(this.onDone);
    socket.send(JSON.stringify({
      type: "start", call_id: callId, language: meta.language ?? "ja", encoding: "pcm16",
      sample_rate: rate, channels: 2, legs: ["customer", "agent"], metadata: { source: "demo" },
    }));
    const frame = (rate * FRAME_MS) / 1000 * 2;
    const total = stereo.length / 2 / rate;
    const started = performance.now();
    let sent = 0;
    const pump = () => {
      if (!this.running || socket.readyState !== WebSocket.OPEN) return;
      const due = Math.min(stereo.length, Math.floor(((performance.now() - started) * speed) / FRAME_MS + 1) * frame);
      while (sent < due) {
        const end = Math.min(due, sent + frame);
        socket.send(stereo.slice(sent, end).buffer);
        sent = end;
      }
      this.hooks.onProgress(sent / 2 / rate, total);
      if (sent >= stereo.length) {
        socket.send(JSON.stringify({ type: "stop" }));
        this.#finish(this.onDone);
        return;
      }
      this.timer = setTimeout(pump, FRAME_MS);
    };
    pump();
  }

  /** Stop early: the server flushes what it has and ends the call as usual. */
  stop() {
    clearTimeout(this.timer);
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "stop" }));
    this.#finish(this.onDone);
  }

  #finish(onDone) {
    clearTimeout(this.timer);
    const wasRunning = this.running;
    this.running = false;
    if (wasRunning) onDone?.();
  }
}
