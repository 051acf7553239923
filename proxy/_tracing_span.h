/* What proxy/_tracing_span.c (the span object, the module) and _tracing_span_finish.c
 * (a request's end: its spans written and queued) share: the object, what the Python side
 * hands over at import, and the protobuf pieces. */
#ifndef PROXY_TRACING_SPAN_H
#define PROXY_TRACING_SPAN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

/* What configure() is given (proxy/tracing_recorder.py, once, at import). */
typedef struct {
    PyObject *py_span;         /* tracing_span.RequestSpan: its methods for the rest */
    PyObject *getrandbits;     /* random.getrandbits, as the SDK's id generator draws */
    PyObject *usage;           /* tracing_attributes.usage: counts that are not int64 */
    PyObject *ttft_head;       /* gen_ai.response.time_to_first_chunk but its 8 bytes */
    PyObject *request_tail;    /* an unfailed request span's status and flags */
    PyObject *chat_name;       /* the name field of a request that ended unread */
    PyObject *usage_keys[4];   /* KeyValue.key fields of the gen_ai.usage.* counts */
    PyObject *response_id_key; /* KeyValue.key field of gen_ai.response.id */
    PyObject *replies;         /* finish reason -> its form (tracing_span.REPLIES) */
    PyObject *reply_form;      /* tracing_span.reply_form: a reason not yet kept */
    PyObject *parameters;      /* request fields that make request() take the Python way */
} Given;
extern Given given;

/* Names looked up on Python objects, and constants: made once, at import. */
typedef struct {
    PyObject *abandoned, *answer, *attempt, *attempts, *body, *cached, *capture_content,
        *choices, *completion, *finish_reason, *first_byte, *id, *message, *model, *models,
        *new_span_id, *ok, *ok_end, *outcome, *outcomes, *prompt, *provider, *put, *queue,
        *random_ids, *reasoning, *reply, *request, *requests, *spans, *start, *stream,
        *upstream_model, *usage, *traceparent, *tracestate, *empty_bytes, *empty_str, *zero,
        *sixty_four, *one_ninety_two;
} Names;
extern Names names;

/* An attempt is a list, as RequestSpan keeps it: [span id, deployment, start, end, time
 * to first chunk, outcome, message]. */
enum { A_SPAN, A_DEPLOYMENT, A_START, A_END, A_TTFT, A_OUTCOME, A_MESSAGE, A_SIZE };

typedef struct {
    PyObject_HEAD
    PyObject *tracer;
    PyObject *trace;       /* 16 bytes */
    PyObject *own;         /* 8 bytes */
    PyObject *parent;      /* None, or (the caller's span id, remote) */
    PyObject *name;        /* the encoded name field, b"" until request() */
    PyObject *request;     /* encoded attributes: what the client asked for */
    PyObject *reply;       /* and what the answer said */
    PyObject *attempts;    /* ended attempts, a list */
    PyObject *current;     /* the running attempt (a list), or None */
    PyObject *headers;     /* the current attempt's trace headers, in httpx's form */
    PyObject *trace_state; /* str, "" for none */
    long long start;       /* wall-clock ns */
    char sampled;
} Span;

extern PyTypeObject SpanType;
Span *span_alloc(PyTypeObject *type, PyObject *tracer, PyObject *trace, PyObject *own,
                 int sampled, long long start, PyObject *state, PyObject *parent);
/* `size` random bytes from random.getrandbits (-1 with an exception); all zeros or not. */
int draw(unsigned char *out, int size);
int all_zero(const unsigned char *p, int size);
PyObject *span_reply(Span *self, PyObject *reply);
PyObject *span_finish(Span *self, PyObject *const *args, Py_ssize_t nargs);
int span_end(Span *self, PyObject *outcome, PyObject *error);
/* RequestSpan.<name>(self, *args): the Python method, for what the fast paths leave. */
PyObject *python_method(PyObject *name, Span *self, PyObject *const *args, Py_ssize_t nargs);

static inline long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* time.time_ns()'s clock */
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void set_field(PyObject **field, PyObject *value) {
    PyObject *old = *field;
    *field = value; /* a new reference, taken over */
    Py_XDECREF(old);
}

static inline void set_item(PyObject *list, Py_ssize_t i, PyObject *value) {
    PyObject *old = PyList_GET_ITEM(list, i);
    PyList_SET_ITEM(list, i, value); /* a new reference, taken over */
    Py_XDECREF(old);
}

static inline int is_bytes(PyObject *o) { return o != NULL && PyBytes_CheckExact(o); }

/* ---- protobuf pieces (opentelemetry/proto/trace/v1/trace.proto, common.proto) ---- */

static inline Py_ssize_t varint_size(uint64_t v) {
    Py_ssize_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline char *put_varint(char *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (char)((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

static inline char *put_fixed64(char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * i));
    return p + 8;
}

static inline char *put_bytes(char *p, PyObject *b) {
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    memcpy(p, PyBytes_AS_STRING(b), (size_t)n);
    return p + n;
}

/* A length-delimited field's size: tag, length, payload. */
static inline Py_ssize_t field_size(Py_ssize_t payload) {
    return 1 + varint_size((uint64_t)payload) + payload;
}

#endif
