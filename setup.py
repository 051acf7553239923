"""The compiled span recorder (proxy/_tracing_span.c), optional: pyproject.toml has the rest.

Without a C compiler the package installs without it, and tracing uses the Python
RequestSpan (proxy/tracing_recorder.py); CI has one, and tests/test_tracing_recorder.py
fails if the extension is missing there."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "proxy._tracing_span",
            sources=[
                "proxy/_tracing_span_module.c",
                "proxy/_tracing_span.c",
                "proxy/_tracing_span_finish.c",
            ],
            depends=["proxy/_tracing_span.h"],
            extra_compile_args=[
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
            ],
            optional=True,
        )
    ]
)
