/* The module (proxy/_tracing_span.c says what it is and why): what the Python side hands
 * over at import (configure), the names it looks up, ids drawn, and root(): a request's span.
 */
#include "_tracing_span.h"

Given given;
Names names;

/* `size` random bytes (8, or 24 for a trace id and a span id) from one random.getrandbits
 * call, as the SDK's RandomIdGenerator draws; -1 with an exception set if that failed. */
int draw(unsigned char *out, int size) {
    PyObject *bits = PyObject_CallOneArg(given.getrandbits, size == 8 ? names.sixty_four
                                                                      : names.one_ninety_two);
    if (bits == NULL) return -1;
#if PY_VERSION_HEX >= 0x030D0000
    int flags = Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER;
    int failed = PyLong_AsNativeBytes(bits, out, size, flags) < 0;
#else
    int failed = _PyLong_AsByteArray((PyLongObject *)bits, out, (size_t)size, 0, 0) < 0;
#endif
    Py_DECREF(bits);
    return failed ? -1 : 0;
}

int all_zero(const unsigned char *p, int size) {
    for (int i = 0; i < size; i++)
        if (p[i]) return 0;
    return 1;
}

/* root(tracer, sampled): a span with no caller's trace, its ids drawn as the SDK's
 * RandomIdGenerator draws them (random.getrandbits); None if an id came out all zeros
 * (Tracer.start asks the SDK's generator then). */
static PyObject *root(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "root(tracer, sampled)");
        return NULL;
    }
    unsigned char ids[24]; /* the trace id's 16 bytes, then the span id's 8 */
    int sampled = PyObject_IsTrue(args[1]);
    if (sampled < 0 || draw(ids, 24) < 0) return NULL;
    if (all_zero(ids, 16) || all_zero(ids + 16, 8)) Py_RETURN_NONE;
    PyObject *trace = PyBytes_FromStringAndSize((char *)ids, 16);
    PyObject *own = trace ? PyBytes_FromStringAndSize((char *)ids + 16, 8) : NULL;
    Span *self = NULL;
    if (own != NULL)
        self = span_alloc(&SpanType, args[0], trace, own, sampled, now_ns(), names.empty_str,
                          Py_None);
    Py_XDECREF(trace);
    Py_XDECREF(own);
    return (PyObject *)self;
}

/* ---- the module --------------------------------------------------------------------- */

/* configure(...): what the Python side hands over, once (proxy/tracing_recorder.py). */
static PyObject *configure(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"span_class", "getrandbits", "usage", "ttft_head",
                               "request_tail", "chat_name", "usage_keys", "response_id_key",
                               "replies", "reply_form", "parameters", NULL};
    Given g;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOSSS(SSSS)SO!OO!:configure", keywords,
                                     &g.py_span, &g.getrandbits, &g.usage, &g.ttft_head,
                                     &g.request_tail, &g.chat_name, &g.usage_keys[0],
                                     &g.usage_keys[1], &g.usage_keys[2], &g.usage_keys[3],
                                     &g.response_id_key, &PyDict_Type, &g.replies,
                                     &g.reply_form, &PyTuple_Type, &g.parameters))
        return NULL;
    PyObject **all = (PyObject **)&g, **now = (PyObject **)&given;
    for (size_t i = 0; i < sizeof(Given) / sizeof(PyObject *); i++) {
        Py_INCREF(all[i]);
        Py_XSETREF(now[i], all[i]);
    }
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS, NULL},
    {"root", (PyCFunction)(void (*)(void))root, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tracing_span", "RequestSpan compiled (proxy/_tracing_span.c).",
    -1, module_methods,
};

static int make_names(void) {
    struct { PyObject **name; const char *text; } strings[] = {
        {&names.abandoned, "abandoned"}, {&names.answer, "answer"},
        {&names.attempt, "attempt"}, {&names.attempts, "attempts"}, {&names.body, "body"},
        {&names.cached, "cached"}, {&names.capture_content, "capture_content"},
        {&names.choices, "choices"}, {&names.completion, "completion"},
        {&names.finish_reason, "finish_reason"}, {&names.first_byte, "first_byte"},
        {&names.id, "id"}, {&names.message, "message"}, {&names.model, "model"},
        {&names.models, "models"}, {&names.new_span_id, "new_span_id"}, {&names.ok, "ok"},
        {&names.ok_end, "ok_end"}, {&names.outcome, "outcome"},
        {&names.outcomes, "outcomes"}, {&names.prompt, "prompt"},
        {&names.provider, "provider"}, {&names.put, "put"}, {&names.queue, "queue"},
        {&names.random_ids, "random_ids"}, {&names.reasoning, "reasoning"},
        {&names.reply, "reply"}, {&names.request, "request"},
        {&names.requests, "requests"}, {&names.spans, "_spans"}, {&names.start, "start"},
        {&names.stream, "stream"}, {&names.upstream_model, "upstream_model"},
        {&names.usage, "usage"}, {&names.empty_str, ""},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if ((*strings[i].name = PyUnicode_InternFromString(strings[i].text)) == NULL) return -1;
    names.traceparent = PyBytes_FromString("traceparent");
    names.tracestate = PyBytes_FromString("tracestate");
    names.empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    names.zero = PyLong_FromLong(0);
    names.sixty_four = PyLong_FromLong(64);
    names.one_ninety_two = PyLong_FromLong(192);
    return names.traceparent && names.tracestate && names.empty_bytes && names.zero &&
                   names.sixty_four && names.one_ninety_two
               ? 0
               : -1;
}

PyMODINIT_FUNC PyInit__tracing_span(void) {
    if (make_names() < 0 || PyType_Ready(&SpanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Span", (PyObject *)&SpanType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
