#!/usr/bin/env node
// Ollama's HTTP API over a real local model (node-llama-cpp), on 127.0.0.1.
//
// A test double for the Ollama server, which cannot run on these machines: the real `ollama`
// client and orchcore's Ollama adapter talk to it as to Ollama, and a real model answers
// (real latency, real streaming, JSON constrained by a grammar built from `format`).
// Serves GET / and /api/version, GET /api/tags, POST /api/show, POST /api/chat (NDJSON
// stream or one object). Install its pieces with scripts/install-local-model.sh.
//
// Usage: node server.mjs --runtime DIR --model FILE.gguf [--name smollm2:135m] [--port 0]
//        [--threads 1] [--version 0.12.0]
// --port 0 (the default; env OLLAMA_SHIM_PORT) picks a free port. When ready it prints one
// line to stdout: "listening on http://127.0.0.1:PORT". Requests are logged to stderr.
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
    options: {
        runtime: { type: "string" },
        model: { type: "string" },
        name: { type: "string", default: "smollm2:135m" },
        port: { type: "string", default: process.env.OLLAMA_SHIM_PORT ?? "0" },
        // One thread: llama.cpp's spinning threads fight over 2 shared cores and run 10x slower.
        threads: { type: "string", default: "1" },
        version: { type: "string", default: "0.12.0" }, // the Ollama API version imitated
    },
});
if (!args.runtime || !args.model) {
    process.stderr.write("ollama-shim: --runtime DIR and --model FILE are required (see scripts/install-local-model.sh --paths)\n");
    process.exit(2);
}

const nlc = await import(pathToFileURL(join(args.runtime, "node_modules", "node-llama-cpp", "dist", "index.js")).href);
const threads = Number(args.threads);
const started = process.hrtime.bigint();
const llama = await nlc.getLlama({ gpu: false, build: "never", maxThreads: threads, logLevel: nlc.LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: args.model });
const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stderr.write(`ollama-shim: loaded ${args.model} in ${loadSeconds.toFixed(2)} s\n`);

const servedName = withTag(args.name);
const metadata = model.fileInfo.metadata;
const architecture = metadata.general.architecture;
const parameterCount = model.fileInfo.tensorInfo.reduce(
    (sum, tensor) => sum + tensor.dimensions.reduce((n, d) => n * Number(d), 1), 0);
const quantization = String(nlc.GgufFileType[metadata.general.file_type] ?? "unknown").replace(/^MOSTLY_/, "");
const modifiedAt = statSync(args.model).mtime.toISOString();
const details = {
    parent_model: "", format: "gguf", family: architecture, families: [architecture],
    parameter_size: humanNumber(parameterCount), quantization_level: quantization,
};
let digest = null; // sha256 of the file, computed on first /api/tags (98 MB: not at start-up)

/** "smollm2" means "smollm2:latest", as in Ollama. */
function withTag(name) {
    const base = String(name).trim().replace(/^(registry\.ollama\.ai\/)?(library\/)?/, "");
    return base.includes(":") ? base : `${base}:latest`;
}

/** 134515008 -> "134.52M", like Ollama's format.HumanNumber. */
function humanNumber(n) {
    for (const [unit, size] of [["B", 1e9], ["M", 1e6], ["K", 1e3]]) {
        if (n >= size) return `${Number((n / size).toFixed(2))}${unit}`;
    }
    return String(n);
}

/** Scalar GGUF metadata as dotted keys, as Ollama's model_info lists it (token arrays left out). */
function flatten(value, prefix = "", out = {}) {
    for (const [key, item] of Object.entries(value)) {
        const dotted = prefix ? `${prefix}.${key}` : key;
        if (item !== null && typeof item === "object" && !Array.isArray(item)) flatten(item, dotted, out);
        else if (!Array.isArray(item)) out[dotted] = typeof item === "bigint" ? Number(item) : item;
    }
    return out;
}

function fileDigest() {
    return new Promise((resolve, reject) => {
        const hash = createHash("sha256");
        createReadStream(args.model).on("data", (b) => hash.update(b)).on("error", reject)
            .on("end", () => resolve(hash.digest("hex")));
    });
}

// One context at a time, rebuilt when a request asks for another num_ctx (Ollama reloads too).
let context = null;
let chat = null;
async function chatFor(numCtx) {
    const size = Math.max(256, Math.min(numCtx, model.trainContextSize));
    if (context && context.contextSize === size) return { chat, loadNs: 0n };
    const t0 = process.hrtime.bigint();
    if (context) await context.dispose();
    context = await model.createContext({ contextSize: size, threads, sequences: 1 });
    chat = new nlc.LlamaChat({ contextSequence: context.getSequence() });
    return { chat, loadNs: process.hrtime.bigint() - t0 };
}

// Requests run one after another, like Ollama with OLLAMA_NUM_PARALLEL=1.
let queue = Promise.resolve();
function serialised(job) {
    const run = queue.then(job, job);
    queue = run.catch(() => {});
    return run;
}

class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
}

function toHistory(messages) {
    const history = messages.map((m) => {
        const text = String(m.content ?? "");
        if (m.role === "system") return { type: "system", text };
        if (m.role === "user" || m.role === "tool") return { type: "user", text };
        if (m.role === "assistant") return { type: "model", response: text ? [text] : [] };
        throw new HttpError(400, `invalid role "${m.role}": expected system, user, assistant or tool`);
    });
    // A trailing assistant message is a prefix to continue; otherwise the model answers anew.
    if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
    return history;
}

async function grammarFor(format) {
    if (format === undefined || format === null || format === "") return undefined;
    if (format === "json") return llama.getGrammarFor("json");
    if (typeof format !== "object") throw new HttpError(400, `invalid format: expected "json" or a JSON schema object`);
    try {
        return await llama.createGrammarForJsonSchema(format);
    } catch (error) {
        throw new HttpError(400, `invalid format: the JSON schema is not supported: ${error.message}`);
    }
}

function generationOptions(options, grammar) {
    const o = options ?? {};
    const stop = o.stop === undefined ? undefined : [].concat(o.stop).map(String);
    return {
        grammar,
        temperature: o.temperature ?? 0.8, // Ollama's defaults, where the option is absent
        seed: o.seed,
        topK: o.top_k ?? 40,
        topP: o.top_p ?? 0.9,
        minP: o.min_p,
        maxTokens: o.num_predict === undefined || o.num_predict < 0 ? undefined : o.num_predict,
        repeatPenalty: o.repeat_penalty === undefined ? undefined : { penalty: o.repeat_penalty, lastTokens: o.repeat_last_n ?? 64 },
        customStopTriggers: stop,
    };
}

function promptTokens(session, history) {
    const { contextText } = session.chatWrapper.generateContextState({ chatHistory: history });
    return contextText.tokenize(model.tokenizer).length;
}

/** POST /api/chat: the model's answer, streamed as NDJSON or as one object (`stream: false`). */
async function handleChat(body, res) {
    if (withTag(body.model ?? "") !== servedName) {
        throw new HttpError(404, `model "${body.model}" not found, try pulling it first`);
    }
    if (body.messages !== undefined && !Array.isArray(body.messages)) throw new HttpError(400, "messages must be a list");
    if (Array.isArray(body.tools) && body.tools.length > 0) throw new HttpError(400, `${body.model} does not support tools`);
    const stream = body.stream !== false;
    const base = () => ({ model: body.model, created_at: new Date().toISOString() });
    const received = process.hrtime.bigint();
    const options = body.options ?? {};
    const grammar = await grammarFor(body.format);
    const history = body.messages?.length ? toHistory(body.messages) : null; // bad input: 400 before any work
    const numCtx = options.num_ctx ?? 4096;
    if (!Number.isInteger(numCtx) || numCtx <= 0) throw new HttpError(400, `invalid num_ctx ${JSON.stringify(numCtx)}: expected a positive integer`);
    const generation = generationOptions(options, grammar);
    await serialised(async () => {
        const begun = process.hrtime.bigint(); // after any wait in the queue, as Ollama counts
        const { chat: session, loadNs } = await chatFor(numCtx);
        if (history === null) { // an empty chat loads (or, keep_alive 0, unloads)
            const doneReason = body.keep_alive === 0 || body.keep_alive === "0" ? "unload" : "load";
            return send(res, 200, { ...base(), message: { role: "assistant", content: "" }, done_reason: doneReason, done: true });
        }
        const sequence = session.sequence;
        const before = sequence.tokenMeter.getState();
        const abort = new AbortController();
        res.on("close", () => abort.abort());
        let firstToken = null;
        if (stream) res.writeHead(200, { "content-type": "application/x-ndjson" });
        let result;
        try {
            result = await session.generateResponse(history, {
                ...generation,
                maxTokens: generation.maxTokens ?? sequence.contextSize,
                signal: abort.signal,
                stopOnAbortSignal: true,
                onTextChunk: (text) => {
                    firstToken ??= process.hrtime.bigint();
                    if (stream && text) res.write(`${JSON.stringify({ ...base(), message: { role: "assistant", content: text }, done: false })}\n`);
                },
            });
        } catch (error) {
            if (!stream) throw error;
            res.end(`${JSON.stringify({ error: String(error.message ?? error) })}\n`); // Ollama's mid-stream error line
            return undefined;
        }
        const finished = process.hrtime.bigint();
        const used = sequence.tokenMeter.diff(before);
        firstToken ??= finished;
        const final = {
            ...base(),
            message: { role: "assistant", content: stream ? "" : result.response },
            done_reason: result.metadata.stopReason === "maxTokens" ? "length" : "stop",
            done: true,
            total_duration: Number(finished - received),
            load_duration: Number(loadNs),
            // The whole prompt as the chat template renders it, cached prefix included (only new
            // tokens are evaluated): what the caller's token estimate is checked against.
            prompt_eval_count: promptTokens(session, history),
            prompt_eval_duration: Number(firstToken - begun - loadNs),
            eval_count: used.usedOutputTokens,
            eval_duration: Number(finished - firstToken),
        };
        if (stream) return res.end(`${JSON.stringify(final)}\n`);
        return send(res, 200, final);
    });
}

async function handleShow(body, res) {
    const name = body.model ?? body.name;
    if (!name) throw new HttpError(400, "missing request body");
    if (withTag(name) !== servedName) throw new HttpError(404, `model '${name}' not found`);
    const modelInfo = { ...flatten(metadata), "general.parameter_count": parameterCount };
    for (const key of Object.keys(modelInfo)) if (key.startsWith("tokenizer.chat_template")) delete modelInfo[key];
    send(res, 200, {
        license: String(metadata.general.license ?? ""),
        modelfile: `# served by orchcore's ollama shim (scripts/ollama-shim)\nFROM ${args.model}\n`,
        parameters: "",
        template: String(metadata.tokenizer?.chat_template ?? ""), // the GGUF's Jinja (Ollama shows Go)
        details,
        model_info: modelInfo,
        capabilities: ["completion"],
        modified_at: modifiedAt,
    });
}

async function handleTags(res) {
    digest ??= await fileDigest();
    send(res, 200, {
        models: [{ name: servedName, model: servedName, modified_at: modifiedAt, size: statSync(args.model).size, digest, details }],
    });
}

function send(res, status, value) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(value));
}

function readJson(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c)).on("error", reject).on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (!text.trim()) return reject(new HttpError(400, "missing request body"));
            try { resolve(JSON.parse(text)); } catch (error) { reject(new HttpError(400, error.message)); }
        });
    });
}

const server = http.createServer(async (req, res) => {
    const t0 = Date.now();
    const path = new URL(req.url, "http://shim").pathname;
    res.on("finish", () => process.stderr.write(`ollama-shim: ${req.method} ${path} ${res.statusCode} ${Date.now() - t0} ms\n`));
    try {
        if ((req.method === "GET" || req.method === "HEAD") && path === "/") {
            res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
            res.end(req.method === "HEAD" ? undefined : "Ollama is running");
        } else if ((req.method === "GET" || req.method === "HEAD") && path === "/api/version") {
            send(res, 200, { version: args.version });
        } else if (req.method === "GET" && path === "/api/tags") {
            await handleTags(res);
        } else if (req.method === "POST" && path === "/api/show") {
            await handleShow(await readJson(req), res);
        } else if (req.method === "POST" && path === "/api/chat") {
            await handleChat(await readJson(req), res);
        } else {
            res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
            res.end("404 page not found"); // Go's mux, as Ollama answers
        }
    } catch (error) {
        const status = error instanceof HttpError ? error.status : 500;
        if (!res.headersSent) send(res, status, { error: String(error.message ?? error) });
        else res.end(`${JSON.stringify({ error: String(error.message ?? error) })}\n`);
    }
});

async function shutdown() {
    server.close();
    await llama.dispose();
    process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

server.listen(Number(args.port), "127.0.0.1", () => {
    process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
