/**
 * The Workers entry: the API around the bundle compiled into the worker, running ORT's WASM backend in workerd.
 * Nothing is loaded here; the model and tokenizer load on the first request that needs them.
 */
import { createApp } from './app.js';
import { defaultBundle } from './bundle/default-bundle.js';
import { wasmHeapBytes, workerdOrt } from './runtime/ort-workerd.js';

export default createApp({ bundle: defaultBundle, ort: workerdOrt, wasmHeapBytes });
