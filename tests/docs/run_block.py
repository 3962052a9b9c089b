"""Run one documentation block: ``python run_block.py FILE`` where FILE holds the code.

Top-level ``await`` is allowed: such a block is compiled as a coroutine and run in
an event loop, as ``python -m asyncio`` would.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from pathlib import Path


def main(path: str) -> None:
    source = Path(path).read_text()
    code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "__main__"}
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


if __name__ == "__main__":
    main(sys.argv[1])
