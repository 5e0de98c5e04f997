// ort_bench.js: ONNX Runtime (onnxruntime-node) on one preprocessed image,
// for scripts/compare_onnx.py: one thread, graph optimizations on, one image
// per session.run.
//   node ort_bench.js MODEL.onnx TENSOR.f32 H W C SECONDS
// Prints one JSON object: images per second of wall-clock time and of the
// process's CPU time (all its threads), and the probabilities.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, tensorPath, h, w, c, seconds] = process.argv.slice(2);
  const buf = fs.readFileSync(tensorPath);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = new ort.Tensor('float32', x, [1, +h, +w, +c]);
  const feeds = {[session.inputNames[0]]: input};
  let out;
  for (let i = 0; i < 3; i++)
    out = await session.run(feeds);
  let iters = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let t = t0;
  do {
    out = await session.run(feeds);
    iters++;
    t = process.hrtime.bigint();
  } while (Number(t - t0) / 1e9 < +seconds);
  const used = process.cpuUsage(c0);  // microseconds of user + system time, all threads of the process
  const probs = Array.from(out[session.outputNames[0]].data);
  console.log(JSON.stringify({images_per_s: iters / (Number(t - t0) / 1e9),
                              images_per_cpu_s: iters / ((used.user + used.system) / 1e6), iterations: iters,
                              version: require('onnxruntime-node/package.json').version, probabilities: probs}));
}

main().catch((e) => {
  console.error('ort_bench.js: ' + e.message);
  process.exit(1);
});
