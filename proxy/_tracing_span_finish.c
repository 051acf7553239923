/* A request's answer and end (RequestSpan.reply and .finish, compiled; proxy/_tracing_span.c
 * says why). reply(): a non-stream answer's finish reason and id as attributes. finish(): its
 * running attempt ends, and if it is sampled its spans are written and queued for the
 * export thread. A request whose one attempt answered, with no caller's trace (most), has
 * both spans written here, into one bytes object, in the order and with the bytes that
 * RequestSpan._answered and tracing_encoding.pair_form write; any other by RequestSpan._spans.
 */
#include "_tracing_span.h"

/* `before` (the finish reasons' attribute) then gen_ai.response.id; NULL with no
 * exception if the id is not UTF-8 (RequestSpan.reply leaves it out then). */
static PyObject *with_response_id(PyObject *before, PyObject *answer_id) {
    Py_ssize_t n;
    const char *data = PyUnicode_AsUTF8AndSize(answer_id, &n);
    if (data == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_ssize_t value = field_size(n);                                         /* AnyValue */
    Py_ssize_t pair = PyBytes_GET_SIZE(given.response_id_key) + field_size(value); /* KeyValue */
    PyObject *out = PyBytes_FromStringAndSize(NULL, PyBytes_GET_SIZE(before) + field_size(pair));
    if (out == NULL) return NULL;
    char *p = put_bytes(PyBytes_AS_STRING(out), before);
    *p++ = 0x4a; /* Span.attributes (9) */
    p = put_varint(p, (uint64_t)pair);
    p = put_bytes(p, given.response_id_key);
    *p++ = 0x12; /* KeyValue.value (2) */
    p = put_varint(p, (uint64_t)value);
    *p++ = 0x0a; /* AnyValue.string_value (1) */
    p = put_varint(p, (uint64_t)n);
    memcpy(p, data, (size_t)n);
    return out;
}

/* The reply attributes of an answer with one choice, its finish reason and its id (most),
 * without captured content; NULL, with no exception, for any other. */
static PyObject *common_reply(Span *self, PyObject *answer) {
    if (!PyDict_CheckExact(answer)) return NULL;
    PyObject *capture = PyObject_GetAttr(self->tracer, names.capture_content);
    if (capture == NULL) return NULL;
    Py_DECREF(capture);
    if (capture != Py_False) return NULL;
    PyObject *choices = PyDict_GetItemWithError(answer, names.choices);  /* borrowed */
    PyObject *answer_id = choices ? PyDict_GetItemWithError(answer, names.id) : NULL;
    if (answer_id == NULL || !PyUnicode_CheckExact(answer_id) || !PyList_CheckExact(choices) ||
        PyList_GET_SIZE(choices) != 1 || !PyDict_CheckExact(PyList_GET_ITEM(choices, 0)))
        return NULL;
    PyObject *reason = PyDict_GetItemWithError(PyList_GET_ITEM(choices, 0), names.finish_reason);
    if (reason == NULL || !PyUnicode_CheckExact(reason)) return NULL;
    Py_INCREF(answer_id);
    Py_INCREF(reason);
    PyObject *form = PyDict_GetItemWithError(given.replies, reason), *encoded = NULL;
    if (form != NULL) Py_INCREF(form);
    else if (!PyErr_Occurred()) form = PyObject_CallOneArg(given.reply_form, reason);
    if (form != NULL && PyTuple_CheckExact(form) && PyTuple_GET_SIZE(form) > 1 &&
        is_bytes(PyTuple_GET_ITEM(form, 1)))
        encoded = with_response_id(PyTuple_GET_ITEM(form, 1), answer_id);
    Py_XDECREF(form);
    Py_DECREF(reason);
    Py_DECREF(answer_id);
    return encoded;
}

/* reply(reply): a non-stream answer's id and finish reasons, from the adapter's parsed
 * answer; any other (none parsed, several choices, captured content) by RequestSpan's. */
PyObject *span_reply(Span *self, PyObject *reply) {
    PyObject *answer = PyObject_GetAttr(reply, names.answer);
    if (answer == NULL) return NULL;
    PyObject *encoded = common_reply(self, answer);
    Py_DECREF(answer);
    if (PyErr_Occurred()) {
        Py_XDECREF(encoded);
        return NULL;
    }
    if (encoded == NULL) return python_method(names.reply, self, &reply, 1);
    set_field(&self->reply, encoded);
    Py_RETURN_NONE;
}

/* The four gen_ai.usage.* counts (input, output, cache_read.input, reasoning.output). */
static PyObject *usage_fields(int i) {
    PyObject *fields[4] = {names.prompt, names.completion, names.cached, names.reasoning};
    return fields[i];
}

/* trace.usage's counts as int64 bit patterns: 0 for no usage, 1 for counts, 2 for counts
 * that are not int64s (tracing_attributes.usage writes those), -1 with an exception. */
static int read_usage(PyObject *usage, uint64_t counts[4]) {
    if (usage == Py_None) return 0;
    int state = 1;
    for (int i = 0; i < 4; i++) {
        PyObject *count = PyObject_GetAttr(usage, usage_fields(i));
        if (count == NULL) return -1;
        int overflow = 0, exact = PyLong_CheckExact(count);
        long long n = exact ? PyLong_AsLongLongAndOverflow(count, &overflow) : 0;
        Py_DECREF(count);
        if (n == -1 && PyErr_Occurred()) return -1;
        if (!exact || overflow) state = 2;
        counts[i] = (uint64_t)n; /* an int64's two's complement, as the encoder writes it */
    }
    return state;
}

/* One int attribute: Span.attributes (9) { key; value (2) { int_value (3) } }. */
static Py_ssize_t int_attribute_size(PyObject *key, uint64_t v) {
    Py_ssize_t value = 1 + varint_size(v);
    return field_size(PyBytes_GET_SIZE(key) + field_size(value));
}

static char *put_int_attribute(char *p, PyObject *key, uint64_t v) {
    Py_ssize_t value = 1 + varint_size(v);
    *p++ = 0x4a;
    p = put_varint(p, (uint64_t)(PyBytes_GET_SIZE(key) + field_size(value)));
    p = put_bytes(p, key);
    *p++ = 0x12;
    p = put_varint(p, (uint64_t)value);
    *p++ = 0x18;
    return put_varint(p, v);
}

static Py_ssize_t tokens_size(int state, const uint64_t counts[4]) {
    Py_ssize_t size = 0;
    for (int i = 0; state == 1 && i < 4; i++)
        size += int_attribute_size(given.usage_keys[i], counts[i]);
    return size;
}

static char *put_tokens(char *p, int state, const uint64_t counts[4]) {
    for (int i = 0; state == 1 && i < 4; i++) p = put_int_attribute(p, given.usage_keys[i], counts[i]);
    return p;
}

/* The token attributes as bytes, for RequestSpan._spans. */
static PyObject *tokens_bytes(PyObject *usage, int state, const uint64_t counts[4]) {
    if (state == 2) { /* not int64s: as tracing_attributes.usage() writes (or leaves) them */
        PyObject *args[4] = {NULL, NULL, NULL, NULL}, *tokens = NULL;
        int i = 0;
        while (i < 4 && (args[i] = PyObject_GetAttr(usage, usage_fields(i))) != NULL) i++;
        if (i == 4) tokens = PyObject_Vectorcall(given.usage, args, 4, NULL);
        for (int j = 0; j < i; j++) Py_DECREF(args[j]);
        return tokens;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, tokens_size(state, counts));
    if (out != NULL) put_tokens(PyBytes_AS_STRING(out), state, counts);
    return out;
}

/* What the spans of a request whose one attempt answered are written from. */
typedef struct {
    PyObject *attempt;  /* borrowed: the one attempt, a list */
    PyObject *ttft;     /* borrowed: its time to first chunk, or None */
    PyObject *outcome;  /* the request span's outcome block (Tracer.outcome) */
    PyObject *ok_end;   /* Tracer.ok_end: (the attempt's last attributes, its tail) */
    long long started, ended;
} Answered;

static int is_ok(PyObject *outcome) {
    return PyUnicode_Check(outcome) && PyUnicode_CompareWithASCIIString(outcome, "ok") == 0;
}

static int is_pair_of_bytes(PyObject *o) {
    return PyTuple_CheckExact(o) && PyTuple_GET_SIZE(o) == 2 &&
           is_bytes(PyTuple_GET_ITEM(o, 0)) && is_bytes(PyTuple_GET_ITEM(o, 1));
}

/* The attempt's part: 1 if it answered and has the shape the spans are written in here,
 * 0 if not, -1 with an exception. */
static int read_attempt(Span *self, PyObject *first_at, Answered *out) {
    if (!PyList_CheckExact(self->attempts) || PyList_GET_SIZE(self->attempts) != 1) return 0;
    PyObject *attempt = PyList_GET_ITEM(self->attempts, 0);
    if (!PyList_CheckExact(attempt) || PyList_GET_SIZE(attempt) != A_SIZE ||
        !is_ok(PyList_GET_ITEM(attempt, A_OUTCOME)))
        return 0;
    PyObject *ttft = PyList_GET_ITEM(attempt, A_TTFT), *id = PyList_GET_ITEM(attempt, A_SPAN);
    if ((first_at == NULL) != (ttft == Py_None) || !is_bytes(id) || PyBytes_GET_SIZE(id) != 8 ||
        !is_pair_of_bytes(PyList_GET_ITEM(attempt, A_DEPLOYMENT)))
        return 0; /* or a time to first chunk on one span only: _spans writes that */
    out->started = PyLong_AsLongLong(PyList_GET_ITEM(attempt, A_START));
    out->ended = out->started == -1 && PyErr_Occurred()
                     ? -1
                     : PyLong_AsLongLong(PyList_GET_ITEM(attempt, A_END));
    if (out->ended == -1 && PyErr_Occurred()) return -1;
    out->attempt = attempt;
    out->ttft = ttft;
    return 1;
}

/* The request span's outcome block, by the key RequestSpan._spans uses: (status, outcome,
 * the attempt's provider and outcome, the answering provider and model). */
static PyObject *outcome_block(Span *self, PyObject *trace, PyObject *status, PyObject *only) {
    PyObject *parts[4] = {NULL, NULL, NULL, NULL}, *block = NULL;
    PyObject *from[4] = {only, only, trace, trace};
    PyObject *fields[4] = {names.provider, names.outcome, names.provider, names.upstream_model};
    int i = 0;
    while (i < 4 && (parts[i] = PyObject_GetAttr(from[i], fields[i])) != NULL) i++;
    PyObject *key = i == 4 ? PyTuple_Pack(6, status, names.ok, parts[0], parts[1], parts[2],
                                          parts[3])
                           : NULL;
    PyObject *table = key ? PyObject_GetAttr(self->tracer, names.outcomes) : NULL;
    if (table != NULL && PyDict_CheckExact(table)) block = PyDict_GetItemWithError(table, key);
    Py_XINCREF(block);
    if (block == NULL && table != NULL && !PyErr_Occurred()) {
        PyObject *call[4] = {self->tracer, key, status, trace};
        block = PyObject_VectorcallMethod(names.outcome, call, 4, NULL);
    }
    for (int j = 0; j < i; j++) Py_DECREF(parts[j]);
    Py_XDECREF(key);
    Py_XDECREF(table);
    return block;
}

/* Whether the request's spans are written here (1), by RequestSpan._spans (0), or an
 * exception (-1): one attempt, it answered, the request did, no caller's trace. */
static int read_answered(Span *self, PyObject *trace, PyObject *status, PyObject *first_at,
                         Answered *out) {
    long code = PyLong_AsLong(status);
    if (code == -1 && PyErr_Occurred()) return -1;
    if (code >= 400 || self->parent != Py_None || !PyUnicode_Check(self->trace_state) ||
        PyUnicode_GET_LENGTH(self->trace_state) || !is_bytes(self->name) ||
        !is_bytes(self->request) || !is_bytes(self->reply))
        return 0;
    int fits = read_attempt(self, first_at, out);
    if (fits <= 0) return fits;
    PyObject *outcome = PyObject_GetAttr(trace, names.outcome);
    PyObject *attempts = outcome ? PyObject_GetAttr(trace, names.attempts) : NULL;
    fits = attempts == NULL ? -1
                            : is_ok(outcome) && PyList_CheckExact(attempts) &&
                                  PyList_GET_SIZE(attempts) == 1;
    if (fits > 0) {
        out->outcome = outcome_block(self, trace, status, PyList_GET_ITEM(attempts, 0));
        out->ok_end = out->outcome ? PyObject_GetAttr(self->tracer, names.ok_end) : NULL;
        fits = out->ok_end == NULL ? -1 : is_bytes(out->outcome) && is_pair_of_bytes(out->ok_end);
    }
    Py_XDECREF(outcome);
    Py_XDECREF(attempts);
    return fits;
}

static char *put_ids(char *p, PyObject *trace, PyObject *span, PyObject *parent) {
    memcpy(p, "\x0a\x10", 2); /* trace_id (1) */
    p = put_bytes(p + 2, trace);
    memcpy(p, "\x12\x08", 2); /* span_id (2) */
    p = put_bytes(p + 2, span);
    if (parent == NULL) return p;
    memcpy(p, "\x22\x08", 2); /* parent_span_id (4) */
    return put_bytes(p + 2, parent);
}

/* name, kind (6), start_time_unix_nano (7), end_time_unix_nano (8) */
static char *put_head(char *p, PyObject *name, char kind, long long start, long long end) {
    p = put_bytes(p, name);
    *p++ = 0x30;
    *p++ = kind;
    *p++ = 0x39;
    p = put_fixed64(p, (uint64_t)start);
    *p++ = 0x41;
    return put_fixed64(p, (uint64_t)end);
}

static char *put_ttft(char *p, double seconds) {
    p = put_bytes(p, given.ttft_head);
    PyFloat_Pack8(seconds, p, 1); /* little-endian, as struct's "<d" */
    return p + 8;
}

#define LEN(o) PyBytes_GET_SIZE(o)

/* Both spans: the attempt's (a CLIENT span, ours its parent), then ours (SERVER). */
static PyObject *write_answered(Span *self, Answered *a, PyObject *first_at, int state,
                                const uint64_t counts[4]) {
    PyObject *deployment = PyList_GET_ITEM(a->attempt, A_DEPLOYMENT);
    PyObject *attempt_name = PyTuple_GET_ITEM(deployment, 0);
    PyObject *fixed = PyTuple_GET_ITEM(deployment, 1);
    PyObject *done = PyTuple_GET_ITEM(a->ok_end, 0), *tail = PyTuple_GET_ITEM(a->ok_end, 1);
    PyObject *name = LEN(self->name) ? self->name : given.chat_name;
    double attempt_ttft = 0, request_ttft = 0;
    if (first_at != NULL) {
        attempt_ttft = PyFloat_AsDouble(a->ttft);
        request_ttft = attempt_ttft == -1.0 && PyErr_Occurred() ? -1.0 : PyFloat_AsDouble(first_at);
        if (request_ttft == -1.0 && PyErr_Occurred()) return NULL;
    }
    Py_ssize_t ttft = first_at == NULL ? 0 : LEN(given.ttft_head) + 8;
    Py_ssize_t attempt = 38 + LEN(attempt_name) + 20 + LEN(fixed) + ttft + LEN(done) + LEN(tail);
    Py_ssize_t request = 28 + LEN(name) + 20 + LEN(self->request) + LEN(self->reply) +
                         LEN(a->outcome) + ttft + tokens_size(state, counts) +
                         LEN(given.request_tail);
    PyObject *spans = PyBytes_FromStringAndSize(NULL, field_size(attempt) + field_size(request));
    if (spans == NULL) return NULL;
    char *p = PyBytes_AS_STRING(spans);
    *p++ = 0x12; /* ScopeSpans.spans (2) */
    p = put_varint(p, (uint64_t)attempt);
    p = put_ids(p, self->trace, PyList_GET_ITEM(a->attempt, A_SPAN), self->own);
    p = put_head(p, attempt_name, 3, a->started, a->ended);
    p = put_bytes(p, fixed);
    if (first_at != NULL) p = put_ttft(p, attempt_ttft);
    p = put_bytes(put_bytes(p, done), tail);
    *p++ = 0x12;
    p = put_varint(p, (uint64_t)request);
    p = put_ids(p, self->trace, self->own, NULL);
    p = put_head(p, name, 2, self->start, now_ns());
    p = put_bytes(put_bytes(put_bytes(p, self->request), self->reply), a->outcome);
    if (first_at != NULL) p = put_ttft(p, request_ttft);
    put_bytes(put_tokens(p, state, counts), given.request_tail);
    return spans;
}

/* The sampled request's spans, and how many. */
static PyObject *spans_of(Span *self, PyObject *trace, PyObject *status, PyObject *first_at,
                          Py_ssize_t *count) {
    PyObject *usage = PyObject_GetAttr(trace, names.usage), *spans = NULL;
    uint64_t counts[4] = {0, 0, 0, 0};
    int state = usage ? read_usage(usage, counts) : -1;
    Answered a = {NULL, NULL, NULL, NULL, 0, 0};
    int here = state < 0 ? -1 : state == 2 ? 0 : read_answered(self, trace, status, first_at, &a);
    if (here > 0) {
        spans = write_answered(self, &a, first_at, state, counts);
        *count = 2;
    } else if (here == 0) {
        PyObject *tokens = tokens_bytes(usage, state, counts);
        PyObject *args[3] = {trace, status, tokens};
        spans = tokens ? python_method(names.spans, self, args, 3) : NULL;
        Py_XDECREF(tokens);
        *count = PyList_GET_SIZE(self->attempts) + 1;
    }
    Py_XDECREF(a.outcome);
    Py_XDECREF(a.ok_end);
    Py_XDECREF(usage);
    return spans;
}

static PyObject *finish(Span *self, PyObject *trace, PyObject *status, PyObject *first) {
    PyObject *first_at = NULL; /* first - trace.start: seconds to the first chunk */
    if (first != Py_None) {
        PyObject *start = PyObject_GetAttr(trace, names.start);
        first_at = start ? PyNumber_Subtract(first, start) : NULL;
        Py_XDECREF(start);
        if (first_at == NULL) return NULL;
    }
    PyObject *result = NULL, *spans = NULL;
    if (self->current != Py_None) { /* a stream's attempt ends with the stream */
        if (first_at != NULL && PyList_CheckExact(self->current) &&
            PyList_GET_SIZE(self->current) == A_SIZE)
            set_item(self->current, A_TTFT, Py_NewRef(first_at));
        PyObject *outcome = PyObject_GetAttr(trace, names.outcome);
        int ended = outcome ? span_end(self, outcome, Py_None) : -1;
        Py_XDECREF(outcome);
        if (ended < 0) goto done;
    }
    if (!self->sampled) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    Py_ssize_t count = 0;
    spans = spans_of(self, trace, status, first_at, &count);
    PyObject *queue = spans ? PyObject_GetAttr(self->tracer, names.queue) : NULL;
    PyObject *n = queue ? PyLong_FromSsize_t(count) : NULL;
    if (n != NULL) {
        PyObject *call[3] = {queue, spans, n};
        result = PyObject_VectorcallMethod(names.put, call, 3, NULL);
    }
    Py_XDECREF(queue);
    Py_XDECREF(n);
done:
    Py_XDECREF(spans);
    Py_XDECREF(first_at);
    return result;
}

/* finish(trace, status): trace.py calls this once, when the request ends. */
PyObject *span_finish(Span *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "finish(trace, status)");
        return NULL;
    }
    PyObject *first = PyObject_GetAttr(args[0], names.first_byte);
    if (first == NULL) return NULL;
    PyObject *result = finish(self, args[0], args[1], first);
    Py_DECREF(first);
    return result;
}
