/* emit_web.c: `cnnc export --web` (see emit_web.h, docs/deploy.md).
 *
 * The WebAssembly module is the exported NAME_infer.c, unchanged, plus a
 * glue file written here: the model's facts for the page (input size,
 * class names, parameter count), a pixel buffer at the top of the heap that
 * grows with the image, and the copy/fill routines a compiler may call for
 * its own block copies (no libc is linked). Both are compiled by clang for
 * wasm32 with SIMD128 and bulk memory, and linked by wasm-ld with nothing
 * imported: the module runs in any browser that has WebAssembly SIMD.
 *
 * NAME.js is the same for every model but for the default module name: it
 * reads everything else from the module. index.html uses it. Neither
 * fetches anything but NAME.wasm and the images the user gives. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit_web.h"
#include "emitter.h"
#include "spawn.h"

#define WEB_PATH 4600
#define WEB_INSTALL "install clang and lld (Debian: apt-get install clang lld)"

static int web_fail(const char *fmt, const char *a, const char *b)
{
    fputs("cnnc: error: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

static const char *tool(const char *env, const char *dflt)
{
    const char *v = getenv(env);
    return v && *v ? v : dflt;
}

/* clang for wasm32: no libc, SIMD128, bulk memory (memory.copy/fill for the
 * compiler's own block copies), non-trapping float-to-int conversions. */
static int wasm_compile(const char *src, const char *obj, const char *inc, int verbose, int quiet)
{
    char incflag[WEB_PATH];
    snprintf(incflag, sizeof incflag, "-I%s", inc);
    char *argv[] = {(char *)tool("CNNC_WASM_CC", "clang"), "--target=wasm32", "-msimd128", "-mbulk-memory",
                    "-mnontrapping-fptoint", "-O2", "-ffreestanding", "-nostdlib", incflag, "-c", (char *)src,
                    "-o", (char *)obj, NULL};
    return spawn_wait(argv, verbose, quiet);
}

/* The glue's exports; the JS calls nothing else. */
static const char *const glue_exports[] = {"cnnw_info", "cnnw_name", "cnnw_class_name", "cnnw_buffer",
                                           "cnnw_probs", "cnnw_predict", NULL};

static int wasm_link(char **objs, const char *out, int verbose, int quiet, int probe)
{
    char *argv[32];
    static char exports[8][64];
    int k = 0;
    argv[k++] = (char *)tool("CNNC_WASM_LD", "wasm-ld");
    argv[k++] = "--no-entry";
    argv[k++] = "--strip-all";
    argv[k++] = "--stack-first";
    argv[k++] = "-z";
    argv[k++] = "stack-size=1048576";
    for (int i = 0; glue_exports[i] && !probe; i++) {
        snprintf(exports[i], sizeof exports[i], "--export=%s", glue_exports[i]);
        argv[k++] = exports[i];
    }
    if (probe)
        argv[k++] = "--export=cnnw_probe";
    for (int i = 0; objs[i]; i++)
        argv[k++] = objs[i];
    argv[k++] = "-o";
    argv[k++] = (char *)out;
    argv[k] = NULL;
    return spawn_wait(argv, verbose, quiet);
}

static int make_tmpdir(char *dir, size_t size)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    if ((size_t)snprintf(dir, size, "%s/cnnc-web-XXXXXX", tmpdir) >= size || !mkdtemp(dir))
        return web_fail("cannot create a temporary folder in %s: %s", tmpdir, strerror(errno));
    return 0;
}

int web_toolchain_check(int verbose)
{
    char dir[4096], src[WEB_PATH], obj[WEB_PATH], wasm[WEB_PATH];
    if (make_tmpdir(dir, sizeof dir))
        return 1;
    snprintf(src, sizeof src, "%s/probe.c", dir);
    snprintf(obj, sizeof obj, "%s/probe.o", dir);
    snprintf(wasm, sizeof wasm, "%s/probe.wasm", dir);
    int rc = 0;
    FILE *f = fopen(src, "w");
    if (!f || fputs("int cnnw_probe(int x) { return x + 1; }\n", f) < 0 || fclose(f) != 0) {
        rc = web_fail("cannot write %s: %s", src, strerror(errno));
    } else {
        const char *cc = tool("CNNC_WASM_CC", "clang"), *ld = tool("CNNC_WASM_LD", "wasm-ld");
        int st = wasm_compile(src, obj, dir, verbose, 1);
        if (st == 127)
            rc = web_fail("--web compiles the model to WebAssembly, and '%s' cannot be run: " WEB_INSTALL
                          "%s",
                          cc, "");
        else if (st != 0)
            rc = web_fail("--web needs a C compiler for WebAssembly, and '%s' cannot compile for wasm32 with "
                          "-msimd128 (LLVM's WebAssembly target): " WEB_INSTALL "%s",
                          cc, "");
        else {
            char *objs[] = {obj, NULL};
            st = wasm_link(objs, wasm, verbose, 1, 1);
            if (st == 127)
                rc = web_fail("--web links the WebAssembly module with '%s', which cannot be run: " WEB_INSTALL
                              "%s",
                              ld, "");
            else if (st != 0)
                rc = web_fail("'%s' failed to link a WebAssembly probe: " WEB_INSTALL "%s", ld, "");
        }
    }
    remove(src);
    remove(obj);
    remove(wasm);
    rmdir(dir);
    return rc;
}

static int write_glue(const cnnc_ir *ir, const char *path)
{
    const char *m = ir->name;
    cnnc_emitter em;
    if (em_open(&em, path))
        return 1;
    em_line(&em, "/* %s_web.c: the WebAssembly glue of %s_infer.c (cnnc export --web). */", m, m);
    em_line(&em, "#include \"%s_infer.h\"", m);
    em_blank(&em);
    em_line(&em, "typedef __SIZE_TYPE__ size_t;");
    em_blank(&em);
    em_line(&em, "/* no libc is linked: the block copies a compiler may call for (bulk memory");
    em_line(&em, " * makes them memory.copy/fill instructions; these are the fallback) */");
    em_function(&em, "void *memcpy(void *restrict d, const void *restrict s, size_t n)");
    em_line(&em, "unsigned char *p = d;");
    em_line(&em, "const unsigned char *q = s;");
    em_line(&em, "while (n--)");
    em_line(&em, "    *p++ = *q++;");
    em_line(&em, "return d;");
    em_close_block(&em, "}");
    em_function(&em, "void *memmove(void *d, const void *s, size_t n)");
    em_line(&em, "unsigned char *p = d;");
    em_line(&em, "const unsigned char *q = s;");
    em_line(&em, "if (p < q)");
    em_line(&em, "    while (n--)");
    em_line(&em, "        *p++ = *q++;");
    em_line(&em, "else");
    em_line(&em, "    while (n--)");
    em_line(&em, "        p[n] = q[n];");
    em_line(&em, "return d;");
    em_close_block(&em, "}");
    em_function(&em, "void *memset(void *d, int c, size_t n)");
    em_line(&em, "unsigned char *p = d;");
    em_line(&em, "while (n--)");
    em_line(&em, "    *p++ = (unsigned char)c;");
    em_line(&em, "return d;");
    em_close_block(&em, "}");
    em_blank(&em);
    em_line(&em, "/* 0 input height, 1 width, 2 channels, 3 classes, 4 parameters */");
    em_function(&em, "int cnnw_info(int k)");
    em_line(&em, "static const int info[5] = {%s_INPUT_HEIGHT, %s_INPUT_WIDTH, %s_INPUT_CHANNELS, %s_CLASSES, %zu};",
            m, m, m, m, ir->n_params);
    em_line(&em, "return k >= 0 && k < 5 ? info[k] : -1;");
    em_close_block(&em, "}");
    em_function(&em, "const char *cnnw_name(void)");
    em_line(&em, "return \"%s\";", m);
    em_close_block(&em, "}");
    em_function(&em, "const char *cnnw_class_name(int k)");
    em_line(&em, "return k >= 0 && k < %s_CLASSES ? %s_class_names[k] : \"\";", m, m);
    em_close_block(&em, "}");
    em_blank(&em);
    em_line(&em, "/* The pixel buffer: from the heap's base, grown (never shrunk) to the largest");
    em_line(&em, " * image seen. Returns its address, or 0 when the memory cannot grow. */");
    em_line(&em, "extern unsigned char __heap_base;");
    em_line(&em, "static size_t buffer_bytes;");
    em_function(&em, "unsigned char *cnnw_buffer(int bytes)");
    em_line(&em, "size_t base = (size_t)&__heap_base, end = base + (size_t)(bytes > 0 ? bytes : 0);");
    em_line(&em, "size_t have = __builtin_wasm_memory_size(0) * 65536u;");
    em_line(&em, "if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535u) / 65536u) == (size_t)-1)");
    em_line(&em, "    return 0;");
    em_line(&em, "if (end - base > buffer_bytes)");
    em_line(&em, "    buffer_bytes = end - base;");
    em_line(&em, "return &__heap_base;");
    em_close_block(&em, "}");
    em_line(&em, "static float probs[%s_CLASSES];", m);
    em_function(&em, "float *cnnw_probs(void)");
    em_line(&em, "return probs;");
    em_close_block(&em, "}");
    em_line(&em, "/* classifies the buffer's width x height x channels pixels into cnnw_probs() */");
    em_function(&em, "int cnnw_predict(int width, int height, int channels)");
    em_line(&em, "if ((size_t)width * (size_t)height * (size_t)(channels > 0 ? channels : 0) > buffer_bytes)");
    em_line(&em, "    return -1;");
    em_line(&em, "return %s_predict(&__heap_base, width, height, channels, probs);", m);
    em_close_block(&em, "}");
    return em_close(&em);
}

/* NAME.js: window.cnnc.load(url) -> model; model.predict(ImageData). */
static const char *const js_text =
    "\n"
    "    // The NUL-terminated UTF-8 string at ptr in the module's memory.\n"
    "    function text(memory, ptr) {\n"
    "        const bytes = new Uint8Array(memory.buffer);\n"
    "        let end = ptr;\n"
    "        while (bytes[end] !== 0) end++;\n"
    "        return new TextDecoder().decode(bytes.subarray(ptr, end));\n"
    "    }\n"
    "\n"
    "    // Loads a module written by `cnnc export --web` and returns the model.\n"
    "    async function load(url) {\n"
    "        url = url || DEFAULT_URL;\n"
    "        const response = await fetch(url);\n"
    "        if (!response.ok) throw new Error(url + \": HTTP \" + response.status);\n"
    "        const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {});\n"
    "        const e = instance.exports;\n"
    "        const classes = e.cnnw_info(3);\n"
    "        const classNames = [];\n"
    "        for (let k = 0; k < classes; k++) classNames.push(text(e.memory, e.cnnw_class_name(k)));\n"
    "        return {\n"
    "            name: text(e.memory, e.cnnw_name()),\n"
    "            inputHeight: e.cnnw_info(0),\n"
    "            inputWidth: e.cnnw_info(1),\n"
    "            inputChannels: e.cnnw_info(2),\n"
    "            parameters: e.cnnw_info(4),\n"
    "            classNames: classNames,\n"
    "            // image: an ImageData (or any {width, height, data} with RGBA bytes), 1x1 to 4096x4096.\n"
    "            // Returns {class, probabilities, ms}: the most probable class name, one\n"
    "            // probability per class (in classNames' order) and the milliseconds taken.\n"
    "            predict(image) {\n"
    "                const { width, height, data } = image;\n"
    "                if (!(width >= 1 && height >= 1 && width <= 4096 && height <= 4096) ||\n"
    "                    !data || data.length !== width * height * 4)\n"
    "                    throw new Error(\"predict needs RGBA pixels (an ImageData) of 1x1 to 4096x4096\");\n"
    "                const start = performance.now();\n"
    "                const ptr = e.cnnw_buffer(data.length);\n"
    "                if (ptr === 0) throw new Error(\"predict: out of memory for a \" + width + \"x\" + height + \" image\");\n"
    "                new Uint8Array(e.memory.buffer, ptr, data.length).set(data);\n"
    "                if (e.cnnw_predict(width, height, 4) !== 0) throw new Error(\"predict: the image was refused\");\n"
    "                const probabilities = Array.from(new Float32Array(e.memory.buffer, e.cnnw_probs(), classes));\n"
    "                const ms = performance.now() - start;\n"
    "                let best = 0;\n"
    "                for (let k = 1; k < classes; k++) if (probabilities[k] > probabilities[best]) best = k;\n"
    "                return { class: classNames[best], probabilities: probabilities, ms: ms };\n"
    "            }\n"
    "        };\n"
    "    }\n"
    "\n"
    "    // Decodes an image file (a Blob) as the browser does, to RGBA pixels as the\n"
    "    // file holds them: no colour-space conversion, alpha not premultiplied. WebGL\n"
    "    // hands the pixels over unchanged; a 2D canvas (the fallback where WebGL is\n"
    "    // unavailable) stores premultiplied alpha, which changes the colour of\n"
    "    // semi-transparent pixels by a level or so.\n"
    "    async function decode(blob) {\n"
    "        const bitmap = await createImageBitmap(blob, { premultiplyAlpha: \"none\", colorSpaceConversion: \"none\" });\n"
    "        const { width, height } = bitmap;\n"
    "        try {\n"
    "            const gl = new OffscreenCanvas(1, 1).getContext(\"webgl2\", { premultipliedAlpha: false });\n"
    "            if (gl && width <= gl.getParameter(gl.MAX_TEXTURE_SIZE) && height <= gl.getParameter(gl.MAX_TEXTURE_SIZE)) {\n"
    "                gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);\n"
    "                gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);\n"
    "                gl.bindTexture(gl.TEXTURE_2D, gl.createTexture());\n"
    "                gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);\n"
    "                gl.bindFramebuffer(gl.FRAMEBUFFER, gl.createFramebuffer());\n"
    "                gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, gl.getParameter(gl.TEXTURE_BINDING_2D), 0);\n"
    "                const pixels = new Uint8ClampedArray(width * height * 4);\n"
    "                gl.pixelStorei(gl.PACK_ALIGNMENT, 1);\n"
    "                gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);\n"
    "                const lost = gl.getError() !== gl.NO_ERROR;\n"
    "                const ext = gl.getExtension(\"WEBGL_lose_context\");\n"
    "                if (ext) ext.loseContext();\n"
    "                if (!lost) {\n"
    "                    bitmap.close();\n"
    "                    return new ImageData(pixels, width, height);\n"
    "                }\n"
    "            }\n"
    "        } catch (err) {\n"
    "            // no WebGL 2: the 2D canvas below\n"
    "        }\n"
    "        const canvas = document.createElement(\"canvas\");\n"
    "        canvas.width = width;\n"
    "        canvas.height = height;\n"
    "        const ctx = canvas.getContext(\"2d\", { willReadFrequently: true });\n"
    "        ctx.drawImage(bitmap, 0, 0);\n"
    "        bitmap.close();\n"
    "        return ctx.getImageData(0, 0, width, height);\n"
    "    }\n"
    "\n"
    "    global.cnnc = Object.assign(global.cnnc || {}, { load: load, decode: decode });\n"
    "})(globalThis);\n";

/* index.html: the page (its script uses NAME.js's cnnc.load and cnnc.decode). */
static const char *const html_head =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";

static const char *const html_style =
    "<style>\n"
    "  :root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #f6f6f4; }\n"
    "  body { margin: 0 auto; max-width: 52rem; padding: 1rem; }\n"
    "  h1 { font-size: 1.5rem; margin: 0 0 .25rem; }\n"
    "  .facts { margin: 0 0 1rem; color: #444; }\n"
    "  .facts dt { display: inline; font-weight: 600; }\n"
    "  .facts dd { display: inline; margin: 0 1rem 0 .25rem; }\n"
    "  #drop { display: block; border: 2px dashed #777; border-radius: .75rem; padding: 1.5rem 1rem;\n"
    "          text-align: center; background: #fff; cursor: pointer; }\n"
    "  #drop.over { border-color: #0b63ce; background: #eaf2fd; }\n"
    "  #drop:focus-visible, input:focus-visible + label, button:focus-visible { outline: 3px solid #0b63ce;\n"
    "          outline-offset: 2px; }\n"
    "  .picker { margin: .75rem 0; }\n"
    "  .picker label { font-weight: 600; margin-right: .5rem; }\n"
    "  #status { min-height: 1.5em; color: #a40000; }\n"
    "  ol { list-style: none; padding: 0; display: grid; gap: .75rem;\n"
    "       grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); }\n"
    "  li { background: #fff; border-radius: .75rem; padding: .75rem; box-shadow: 0 1px 3px #0002; }\n"
    "  li img { width: 100%; height: 10rem; object-fit: contain; background: #eee; border-radius: .5rem; }\n"
    "  .top { font-size: 1.2rem; font-weight: 700; margin: .4rem 0; overflow-wrap: anywhere; }\n"
    "  .file, .ms { color: #555; font-size: .85rem; overflow-wrap: anywhere; }\n"
    "  .bar { display: grid; grid-template-columns: minmax(4rem, 30%) 1fr 3.5rem; gap: .4rem;\n"
    "         align-items: center; font-size: .9rem; margin: .2rem 0; }\n"
    "  .bar span:first-child { overflow-wrap: anywhere; }\n"
    "  .track { height: .8rem; background: #e4e4e4; border-radius: .4rem; overflow: hidden; }\n"
    "  .fill { height: 100%; background: #0b63ce; }\n"
    "  .bar.best .fill { background: #1a7f37; }\n"
    "  .pct { text-align: right; font-variant-numeric: tabular-nums; }\n"
    "  #result:empty { display: none; }\n"
    "  #result { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; background: #fff;\n"
    "            padding: .5rem; border-radius: .5rem; }\n"
    "</style>\n"
    "</head>\n";

static const char *const html_script =
    "<script>\n"
    "\"use strict\";\n"
    "(async function () {\n"
    "    const $ = (id) => document.getElementById(id);\n"
    "    const status = $(\"status\");\n"
    "    let model;\n"
    "    try {\n"
    "        model = await cnnc.load(MODEL_URL);\n"
    "    } catch (err) {\n"
    "        status.textContent = \"The model could not be loaded: \" + err.message +\n"
    "            \" (serve this folder over HTTP, e.g. python3 -m http.server)\";\n"
    "        $(\"result\").textContent = JSON.stringify({ error: String(err.message) });\n"
    "        return;\n"
    "    }\n"
    "    $(\"name\").textContent = model.name;\n"
    "    $(\"size\").textContent = model.inputHeight + \" \\u00d7 \" + model.inputWidth + \" \\u00d7 \" + model.inputChannels;\n"
    "    $(\"classes\").textContent = model.classNames.join(\", \");\n"
    "    $(\"params\").textContent = model.parameters.toLocaleString(\"en\");\n"
    "\n"
    "    function card(title, thumb) {\n"
    "        const li = document.createElement(\"li\");\n"
    "        const img = document.createElement(\"img\");\n"
    "        img.src = thumb;\n"
    "        img.alt = title;\n"
    "        const file = document.createElement(\"div\");\n"
    "        file.className = \"file\";\n"
    "        file.textContent = title;\n"
    "        li.append(img, file);\n"
    "        $(\"results\").prepend(li);\n"
    "        return li;\n"
    "    }\n"
    "\n"
    "    function show(li, r) {\n"
    "        const top = document.createElement(\"div\");\n"
    "        top.className = \"top\";\n"
    "        top.textContent = r.class;\n"
    "        li.append(top);\n"
    "        r.probabilities.forEach((p, k) => {\n"
    "            const row = document.createElement(\"div\");\n"
    "            row.className = \"bar\" + (model.classNames[k] === r.class ? \" best\" : \"\");\n"
    "            const label = document.createElement(\"span\");\n"
    "            label.textContent = model.classNames[k];\n"
    "            const track = document.createElement(\"div\");\n"
    "            track.className = \"track\";\n"
    "            track.setAttribute(\"role\", \"meter\");\n"
    "            track.setAttribute(\"aria-label\", model.classNames[k]);\n"
    "            track.setAttribute(\"aria-valuemin\", \"0\");\n"
    "            track.setAttribute(\"aria-valuemax\", \"1\");\n"
    "            track.setAttribute(\"aria-valuenow\", String(p));\n"
    "            const fill = document.createElement(\"div\");\n"
    "            fill.className = \"fill\";\n"
    "            fill.style.width = (100 * p).toFixed(1) + \"%\";\n"
    "            track.append(fill);\n"
    "            const pct = document.createElement(\"span\");\n"
    "            pct.className = \"pct\";\n"
    "            pct.textContent = (100 * p).toFixed(1) + \"%\";\n"
    "            row.append(label, track, pct);\n"
    "            li.append(row);\n"
    "        });\n"
    "        const ms = document.createElement(\"div\");\n"
    "        ms.className = \"ms\";\n"
    "        ms.textContent = r.ms.toFixed(2) + \" ms\";\n"
    "        li.append(ms);\n"
    "    }\n"
    "\n"
    "    async function classify(blob, title) {\n"
    "        const li = card(title, URL.createObjectURL(blob));\n"
    "        try {\n"
    "            const r = model.predict(await cnnc.decode(blob));\n"
    "            show(li, r);\n"
    "            return r;\n"
    "        } catch (err) {\n"
    "            const msg = document.createElement(\"div\");\n"
    "            msg.className = \"top\";\n"
    "            msg.textContent = \"Not classified: \" + (err.message || \"the browser cannot decode this file\");\n"
    "            li.append(msg);\n"
    "            throw err;\n"
    "        }\n"
    "    }\n"
    "\n"
    "    async function files(list) {\n"
    "        status.textContent = \"\";\n"
    "        for (const f of list) {\n"
    "            try {\n"
    "                await classify(f, f.name);\n"
    "            } catch (err) {\n"
    "                status.textContent = f.name + \": \" + (err.message || \"cannot be decoded\");\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "\n"
    "    const input = $(\"files\"), drop = $(\"drop\");\n"
    "    input.addEventListener(\"change\", () => { files(Array.from(input.files)); input.value = \"\"; });\n"
    "    drop.addEventListener(\"click\", () => input.click());\n"
    "    drop.addEventListener(\"keydown\", (ev) => {\n"
    "        if (ev.key === \"Enter\" || ev.key === \" \") { ev.preventDefault(); input.click(); }\n"
    "    });\n"
    "    drop.addEventListener(\"dragover\", (ev) => { ev.preventDefault(); drop.classList.add(\"over\"); });\n"
    "    drop.addEventListener(\"dragleave\", () => drop.classList.remove(\"over\"));\n"
    "    drop.addEventListener(\"drop\", (ev) => {\n"
    "        ev.preventDefault();\n"
    "        drop.classList.remove(\"over\");\n"
    "        files(Array.from(ev.dataTransfer.files));\n"
    "    });\n"
    "    input.disabled = false;\n"
    "\n"
    "    // The test hook: index.html?image=URL classifies URL and writes the result as JSON.\n"
    "    const url = new URLSearchParams(location.search).get(\"image\");\n"
    "    if (url) {\n"
    "        let out;\n"
    "        try {\n"
    "            const response = await fetch(url);\n"
    "            if (!response.ok) throw new Error(url + \": HTTP \" + response.status);\n"
    "            const r = await classify(await response.blob(), url);\n"
    "            out = { class: r.class, probabilities: r.probabilities, ms: r.ms };\n"
    "        } catch (err) {\n"
    "            status.textContent = url + \": \" + (err.message || \"cannot be decoded\");\n"
    "            out = { error: String(err.message || err) };\n"
    "        }\n"
    "        $(\"result\").textContent = JSON.stringify(out);\n"
    "    }\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

static int write_js(const cnnc_ir *ir, const char *path)
{
    cnnc_emitter em;
    if (em_open(&em, path))
        return 1;
    em_raw(&em, "/* %s.js: loads %s.wasm, written by cnnc export --web (docs/deploy.md, \"In a web page\").\n"
                " *\n"
                " *   const model = await cnnc.load(\"%s.wasm\");   // name, inputHeight, inputWidth,\n"
                " *                                                // inputChannels, parameters, classNames\n"
                " *   const r = model.predict(imageData);          // {class, probabilities, ms}\n"
                " *   const imageData = await cnnc.decode(blob);   // a file decoded by the browser, RGBA\n"
                " */\n"
                "(function (global) {\n"
                "    \"use strict\";\n"
                "    const DEFAULT_URL = \"%s.wasm\";\n",
           ir->name, ir->name, ir->name, ir->name);
    em_raw(&em, "%s", js_text);
    return em_close(&em);
}

static int write_html(const cnnc_ir *ir, const char *path)
{
    const char *m = ir->name;
    cnnc_emitter em;
    if (em_open(&em, path))
        return 1;
    em_raw(&em, "%s", html_head);
    em_raw(&em, "<title>%s: image classifier</title>\n", m);
    em_raw(&em, "%s", html_style);
    em_raw(&em,
           "<body>\n"
           "<header>\n"
           "<h1>Model <span id=\"name\">%s</span></h1>\n"
           "<dl class=\"facts\">\n"
           "<dt>Input</dt><dd id=\"size\">%d &times; %d &times; %d</dd>\n"
           "<dt>Classes</dt><dd id=\"classes\"></dd>\n"
           "<dt>Parameters</dt><dd id=\"params\">%zu</dd>\n"
           "</dl>\n"
           "</header>\n"
           "<main>\n"
           "<div id=\"drop\" role=\"button\" tabindex=\"0\" aria-describedby=\"drop-help\">\n"
           "<strong>Drop images here</strong><br><span id=\"drop-help\">or press Enter to choose files; "
           "each image is classified in this browser, nothing is uploaded</span>\n"
           "</div>\n"
           "<p class=\"picker\"><label for=\"files\">Choose images</label>"
           "<input type=\"file\" id=\"files\" accept=\"image/*\" multiple disabled></p>\n"
           "<p id=\"status\" role=\"status\"></p>\n"
           "<ol id=\"results\" aria-live=\"polite\"></ol>\n"
           "<pre id=\"result\"></pre>\n"
           "</main>\n"
           "<script src=\"%s.js\"></script>\n"
           "<script>const MODEL_URL = \"%s.wasm\";</script>\n",
           m, ir->in_h, ir->in_w, ir->in_c, ir->n_params, m, m);
    em_raw(&em, "%s", html_script);
    return em_close(&em);
}

int emit_web(const cnnc_ir *ir, const char *dir, int verbose)
{
    char tmp[4096], glue[WEB_PATH], glue_o[WEB_PATH], infer_c[WEB_PATH], infer_o[WEB_PATH];
    char wasm[WEB_PATH], wasm_tmp[WEB_PATH + 8], js[WEB_PATH], html[WEB_PATH];
    if ((size_t)snprintf(wasm, sizeof wasm, "%s/%s.wasm", dir, ir->name) >= sizeof wasm)
        return web_fail("output path too long: %s%s", dir, "");
    snprintf(wasm_tmp, sizeof wasm_tmp, "%s.tmp", wasm);
    snprintf(infer_c, sizeof infer_c, "%s/%s_infer.c", dir, ir->name);
    snprintf(js, sizeof js, "%s/%s.js", dir, ir->name);
    snprintf(html, sizeof html, "%s/index.html", dir);
    if (make_tmpdir(tmp, sizeof tmp))
        return 1;
    snprintf(glue, sizeof glue, "%s/%s_web.c", tmp, ir->name);
    snprintf(glue_o, sizeof glue_o, "%s/%s_web.o", tmp, ir->name);
    snprintf(infer_o, sizeof infer_o, "%s/%s_infer.o", tmp, ir->name);

    int rc = write_glue(ir, glue);
    if (!rc && wasm_compile(infer_c, infer_o, dir, verbose, 0) != 0)
        rc = web_fail("clang failed to compile %s for wasm32%s", infer_c, "");
    if (!rc && wasm_compile(glue, glue_o, dir, verbose, 0) != 0)
        rc = web_fail("clang failed to compile the WebAssembly glue %s%s", glue, "");
    if (!rc) {
        char *objs[] = {infer_o, glue_o, NULL};
        if (wasm_link(objs, wasm_tmp, verbose, 0, 0) != 0)
            rc = web_fail("wasm-ld failed to link %s%s", wasm, "");
        else if (rename(wasm_tmp, wasm) != 0)
            rc = web_fail("cannot write %s: %s", wasm, strerror(errno));
    }
    remove(wasm_tmp);
    remove(glue);
    remove(glue_o);
    remove(infer_o);
    rmdir(tmp);
    if (!rc)
        rc = write_js(ir, js);
    if (!rc)
        rc = write_html(ir, html);
    return rc;
}
