/* proxy/tracing_span.py's RequestSpan, compiled: the same spans, byte for byte, for a
 * fraction of its CPU.
 *
 * Why C: issue 13 asks that tracing with sampling 1.0 cost at most 40 us of CPU a request
 * more than tracing off. In Python the span calls of a request measured ~51k instructions
 * (callgrind), after every step had been taken down to its fewest bytecodes, and the whole
 * process +62k: +45 to +80 us on the 2-core dev machine (bench/README.md). mypyc over the
 * same code saved a quarter: most of the cost is objects (ids, headers, keys, joined
 * bytes), not bytecodes. Here a request's two spans are written into one bytes object.
 *
 * Only the common path is here: a root span, the request's first attributes when it has
 * no parameters, models or route to record, attempts, a non-stream answer's id and finish
 * reason, and the spans of a request whose one attempt answered with no caller's trace.
 * Anything else is done by RequestSpan's own methods (request, reply, _spans), called with
 * this object as `self`: it has RequestSpan's fields under the same names. The kept
 * encodings (the Tracer's tables, tracing_attributes' forms) stay in Python; this reads
 * them. tests/test_tracing_span.py runs every case through both and compares the bytes.
 *
 * Built by setup.py, optionally: without a C compiler the package installs without it and
 * proxy/tracing_recorder.py takes the Python class (as PROXY_PURE_PYTHON=1 makes it do).
 */
#include "_tracing_span.h"


static const char HEX[] = "0123456789abcdef";

static char *put_hex(char *p, PyObject *b) {
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(b);
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(b); i++) {
        *p++ = HEX[s[i] >> 4];
        *p++ = HEX[s[i] & 15];
    }
    return p;
}

/* ---- the span object ---------------------------------------------------------------- */

Span *span_alloc(PyTypeObject *type, PyObject *tracer, PyObject *trace, PyObject *own,
                        int sampled, long long start, PyObject *state, PyObject *parent) {
    PyObject *attempts = PyList_New(0), *headers = PyTuple_New(0);
    Span *self = attempts && headers ? (Span *)type->tp_alloc(type, 0) : NULL;
    if (self == NULL) {
        Py_XDECREF(attempts);
        Py_XDECREF(headers);
        return NULL;
    }
    self->tracer = Py_NewRef(tracer);
    self->trace = Py_NewRef(trace);
    self->own = Py_NewRef(own);
    self->sampled = (char)sampled;
    self->start = start;
    self->trace_state = Py_NewRef(state);
    self->parent = Py_NewRef(parent);
    self->name = Py_NewRef(names.empty_bytes);
    self->request = Py_NewRef(names.empty_bytes);
    self->reply = Py_NewRef(names.empty_bytes);
    self->attempts = attempts;
    self->current = Py_NewRef(Py_None);
    self->headers = headers;
    return self;
}

/* Span(tracer, trace_id, span_id, sampled, start, trace_state="", parent=None), as
 * RequestSpan is made (Tracer._sampled: a caller's trace, a sampler that decides). */
static PyObject *span_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"tracer", "trace_id", "span_id", "sampled", "start",
                               "trace_state", "parent", NULL};
    PyObject *tracer, *trace, *own, *state = names.empty_str, *parent = Py_None;
    int sampled;
    long long start;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OSSpL|UO:Span", keywords, &tracer, &trace,
                                     &own, &sampled, &start, &state, &parent))
        return NULL;
    if (PyBytes_GET_SIZE(trace) != 16 || PyBytes_GET_SIZE(own) != 8) {
        PyErr_SetString(PyExc_ValueError, "a trace id is 16 bytes, a span id 8");
        return NULL;
    }
    return (PyObject *)span_alloc(type, tracer, trace, own, sampled, start, state, parent);
}

static void span_dealloc(Span *self) {
    Py_XDECREF(self->tracer);
    Py_XDECREF(self->trace);
    Py_XDECREF(self->own);
    Py_XDECREF(self->parent);
    Py_XDECREF(self->name);
    Py_XDECREF(self->request);
    Py_XDECREF(self->reply);
    Py_XDECREF(self->attempts);
    Py_XDECREF(self->current);
    Py_XDECREF(self->headers);
    Py_XDECREF(self->trace_state);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyObject *python_method(PyObject *name, Span *self, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *function = PyObject_GetAttr(given.py_span, name);
    if (function == NULL) return NULL;
    PyObject *all[4] = {(PyObject *)self, NULL, NULL, NULL};
    for (Py_ssize_t i = 0; i < nargs && i < 3; i++) all[i + 1] = args[i];
    PyObject *result = PyObject_Vectorcall(function, all, (size_t)(nargs < 3 ? nargs : 3) + 1,
                                           NULL);
    Py_DECREF(function);
    return result;
}

/* table[key] if it is there, else tracer.<make>(*key): a Tracer's kept block. */
static PyObject *kept(PyObject *tracer, PyObject *table_name, PyObject *make, PyObject *a,
                      PyObject *b) {
    PyObject *key = PyTuple_Pack(2, a, b), *found = NULL;
    PyObject *table = key ? PyObject_GetAttr(tracer, table_name) : NULL;
    if (table != NULL && PyDict_CheckExact(table)) found = PyDict_GetItemWithError(table, key);
    Py_XINCREF(found);
    Py_XDECREF(key);
    Py_XDECREF(table);
    if (found == NULL && table != NULL && !PyErr_Occurred()) {
        PyObject *call[3] = {tracer, a, b};
        found = PyObject_VectorcallMethod(make, call, 3, NULL);
    }
    return found;
}

/* Whether a request has nothing to record but its model and stream flag: no models, no
 * route, no parameter, no captured content. -1 with an exception set. */
static int plain_request(Span *self, PyObject *req, PyObject *route) {
    if (route != Py_None) return 0;
    PyObject *models = PyObject_GetAttr(req, names.models);
    if (models == NULL) return -1;
    Py_DECREF(models);
    if (models != Py_None) return 0;
    PyObject *body = PyObject_GetAttr(req, names.body);
    if (body == NULL) return -1;
    int plain = PyDict_Check(body);
    for (Py_ssize_t i = 0; plain > 0 && i < PyTuple_GET_SIZE(given.parameters); i++) {
        int has = PyDict_Contains(body, PyTuple_GET_ITEM(given.parameters, i));
        plain = has < 0 ? -1 : !has;
    }
    Py_DECREF(body);
    if (plain <= 0) return plain;
    PyObject *capture = PyObject_GetAttr(self->tracer, names.capture_content);
    if (capture == NULL) return -1;
    Py_DECREF(capture);
    return capture == Py_False;
}

/* request(req, route): what the client asked for, once the body is parsed. */
static PyObject *span_request(Span *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "request(req, route)");
        return NULL;
    }
    int plain = plain_request(self, args[0], args[1]);
    if (plain < 0) return NULL;
    if (plain) {
        PyObject *model = PyObject_GetAttr(args[0], names.model);
        PyObject *stream = model ? PyObject_GetAttr(args[0], names.stream) : NULL;
        PyObject *known = stream ? kept(self->tracer, names.requests, names.request, model,
                                        stream)
                                 : NULL;
        Py_XDECREF(model);
        Py_XDECREF(stream);
        if (known == NULL) return NULL;
        int fits = PyTuple_CheckExact(known) && PyTuple_GET_SIZE(known) == 2;
        if (fits) {
            set_field(&self->name, Py_NewRef(PyTuple_GET_ITEM(known, 0)));
            set_field(&self->request, Py_NewRef(PyTuple_GET_ITEM(known, 1)));
        }
        Py_DECREF(known);
        if (fits) Py_RETURN_NONE;
    }
    return python_method(names.request, self, args, nargs);
}

/* The traceparent (and tracestate) an attempt sends, in httpx's form: (name, lowercased
 * name, value). W3C Trace Context: version, trace id, the attempt's span id, flags. */
static PyObject *trace_headers(Span *self, PyObject *span_id) {
    PyObject *value = PyBytes_FromStringAndSize(NULL, 55);
    if (value == NULL) return NULL;
    char *p = PyBytes_AS_STRING(value);
    memcpy(p, "00-", 3);
    p = put_hex(p + 3, self->trace);
    *p++ = '-';
    p = put_hex(p, span_id);
    memcpy(p, self->sampled ? "-01" : "-00", 3);
    PyObject *parent = PyTuple_Pack(3, names.traceparent, names.traceparent, value), *headers;
    Py_DECREF(value);
    if (parent == NULL) return NULL;
    if (PyUnicode_Check(self->trace_state) && PyUnicode_GET_LENGTH(self->trace_state)) {
        PyObject *state = PyUnicode_AsUTF8String(self->trace_state);
        PyObject *pair = state ? PyTuple_Pack(3, names.tracestate, names.tracestate, state) : NULL;
        Py_XDECREF(state);
        headers = pair ? PyTuple_Pack(2, parent, pair) : NULL;
        Py_XDECREF(pair);
    } else {
        headers = PyTuple_Pack(1, parent);
    }
    Py_DECREF(parent);
    return headers;
}

/* An attempt's span id: drawn as root() draws, or from the SDK's generator. */
static PyObject *attempt_id(Span *self) {
    PyObject *random_ids = PyObject_GetAttr(self->tracer, names.random_ids);
    if (random_ids == NULL) return NULL;
    Py_DECREF(random_ids);
    unsigned char id[8] = {0};
    if (random_ids == Py_True && draw(id, 8) < 0) return NULL;
    if (!all_zero(id, 8)) return PyBytes_FromStringAndSize((char *)id, 8);
    /* another id generator (OTEL_PYTHON_ID_GENERATOR), or a zero drawn */
    PyObject *span_id = PyObject_CallMethodNoArgs(self->tracer, names.new_span_id);
    if (span_id != NULL && (!PyBytes_CheckExact(span_id) || PyBytes_GET_SIZE(span_id) != 8)) {
        Py_DECREF(span_id);
        PyErr_SetString(PyExc_ValueError, "a span id is 8 bytes");
        return NULL;
    }
    return span_id;
}

/* start_attempt(provider, model): a client span for one upstream attempt; its traceparent
 * goes upstream (self.headers). */
static PyObject *span_start_attempt(Span *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "start_attempt(provider, model)");
        return NULL;
    }
    /* never left open by a path that forgot it */
    if (self->current != Py_None && span_end(self, names.abandoned, Py_None) < 0) return NULL;
    PyObject *span_id = attempt_id(self);
    PyObject *deployment =
        span_id ? kept(self->tracer, names.attempts, names.attempt, args[0], args[1]) : NULL;
    PyObject *attempt = deployment ? PyList_New(A_SIZE) : NULL;
    PyObject *start = attempt ? PyLong_FromLongLong(now_ns()) : NULL;
    PyObject *headers = start ? trace_headers(self, span_id) : NULL;
    if (headers == NULL) {
        Py_XDECREF(span_id);
        Py_XDECREF(deployment);
        Py_XDECREF(attempt);
        Py_XDECREF(start);
        return NULL;
    }
    PyList_SET_ITEM(attempt, A_SPAN, span_id);
    PyList_SET_ITEM(attempt, A_DEPLOYMENT, deployment);
    PyList_SET_ITEM(attempt, A_START, start);
    PyList_SET_ITEM(attempt, A_END, Py_NewRef(names.zero));
    PyList_SET_ITEM(attempt, A_TTFT, Py_NewRef(Py_None));
    PyList_SET_ITEM(attempt, A_OUTCOME, Py_NewRef(names.empty_str));
    PyList_SET_ITEM(attempt, A_MESSAGE, Py_NewRef(Py_None));
    set_field(&self->current, attempt);
    set_field(&self->headers, headers);
    Py_RETURN_NONE;
}

static PyObject *span_first_chunk(Span *self, PyObject *seconds) {
    if (PyList_CheckExact(self->current) && PyList_GET_SIZE(self->current) == A_SIZE)
        set_item(self->current, A_TTFT, Py_NewRef(seconds));
    Py_RETURN_NONE;
}

/* end_attempt's work: the running attempt ends now with `outcome`; a failure's message is
 * the error's (redacted where the error was built, errors.py), or the outcome. */
int span_end(Span *self, PyObject *outcome, PyObject *error) {
    PyObject *attempt = self->current;
    if (attempt == Py_None) return 0;
    if (!PyList_CheckExact(attempt) || PyList_GET_SIZE(attempt) != A_SIZE) {
        PyErr_SetString(PyExc_TypeError, "a running attempt is a list of 7");
        return -1;
    }
    int ok = PyUnicode_Check(outcome) && PyUnicode_CompareWithASCIIString(outcome, "ok") == 0;
    PyObject *message = NULL;
    if (!ok) {
        int has_error = error == Py_None ? 0 : PyObject_IsTrue(error);
        if (has_error < 0) return -1;
        message = has_error ? PyObject_GetAttr(error, names.message) : Py_NewRef(outcome);
        if (message == NULL) return -1;
    }
    PyObject *ended = PyLong_FromLongLong(now_ns());
    if (ended == NULL) {
        Py_XDECREF(message);
        return -1;
    }
    self->current = Py_NewRef(Py_None); /* the attempt's reference is ours now */
    set_item(attempt, A_END, ended);
    set_item(attempt, A_OUTCOME, Py_NewRef(outcome));
    if (!ok) set_item(attempt, A_MESSAGE, message);
    int appended = PyList_Append(self->attempts, attempt);
    Py_DECREF(attempt);
    return appended;
}

static PyObject *span_end_attempt(Span *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "end_attempt(outcome, error=None)");
        return NULL;
    }
    if (span_end(self, args[0], nargs == 2 ? args[1] : Py_None) < 0) return NULL;
    Py_RETURN_NONE;
}

/* (trace id, span id) in hex, for the access log line. */
static PyObject *span_ids(Span *self, PyObject *unused) {
    PyObject *trace = PyUnicode_New(32, 127), *own = trace ? PyUnicode_New(16, 127) : NULL;
    if (own == NULL) {
        Py_XDECREF(trace);
        return NULL;
    }
    put_hex((char *)PyUnicode_1BYTE_DATA(trace), self->trace);
    put_hex((char *)PyUnicode_1BYTE_DATA(own), self->own);
    PyObject *ids = PyTuple_Pack(2, trace, own);
    Py_DECREF(trace);
    Py_DECREF(own);
    return ids;
}

static PyObject *as_int(PyObject *id) {
    return PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "Os", id, "big");
}

static PyObject *span_trace_id(Span *self, void *unused) { return as_int(self->trace); }
static PyObject *span_span_id(Span *self, void *unused) { return as_int(self->own); }

#define FAST(name, function) {name, (PyCFunction)(void (*)(void))function, METH_FASTCALL, NULL}
static PyMethodDef span_methods[] = {
    FAST("request", span_request),
    FAST("start_attempt", span_start_attempt),
    {"first_chunk", (PyCFunction)span_first_chunk, METH_O, NULL},
    FAST("end_attempt", span_end_attempt),
    {"reply", (PyCFunction)span_reply, METH_O, NULL},
    FAST("finish", span_finish),
    {"ids", (PyCFunction)span_ids, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef span_getset[] = {
    {"trace_id", (getter)span_trace_id, NULL, NULL, NULL},
    {"span_id", (getter)span_span_id, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* RequestSpan's fields, by its names: its Python methods run on this object too. Only the
 * three that those methods set are writable. */
#define FIELD(name, type, member, flags) {name, type, offsetof(Span, member), flags, NULL}
static PyMemberDef span_members[] = {
    FIELD("_tracer", T_OBJECT_EX, tracer, READONLY),
    FIELD("_trace", T_OBJECT_EX, trace, READONLY),
    FIELD("_own", T_OBJECT_EX, own, READONLY),
    FIELD("_parent", T_OBJECT_EX, parent, READONLY),
    FIELD("_start", T_LONGLONG, start, READONLY),
    FIELD("sampled", T_BOOL, sampled, READONLY),
    FIELD("trace_state", T_OBJECT_EX, trace_state, READONLY),
    FIELD("_attempts", T_OBJECT_EX, attempts, READONLY),
    FIELD("_current", T_OBJECT_EX, current, READONLY),
    FIELD("headers", T_OBJECT_EX, headers, READONLY),
    FIELD("name", T_OBJECT_EX, name, 0),
    FIELD("_request", T_OBJECT_EX, request, 0),
    FIELD("_reply", T_OBJECT_EX, reply, 0),
    {NULL, 0, 0, 0, NULL},
};

/* No GC support: a span holds ids, bytes, strings, its tracer and lists of those; nothing
 * in it refers back to it, so it is never part of a cycle. */
PyTypeObject SpanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "proxy._tracing_span.Span",
    .tp_basicsize = sizeof(Span),
    .tp_dealloc = (destructor)span_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One request's spans: proxy/tracing_span.py's RequestSpan, compiled.",
    .tp_methods = span_methods,
    .tp_members = span_members,
    .tp_getset = span_getset,
    .tp_new = span_new,
};
