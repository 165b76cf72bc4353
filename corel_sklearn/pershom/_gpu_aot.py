"""Ahead-of-time compilation of every GPU kernel configuration, without a GPU.

Triton compiles a kernel for a named target (``GPUTarget("cuda", 90, 32)``) with no device
present, and the ``ptxas`` shipped in the triton wheel reports registers, spills and shared
memory (``ptxas -v``). :func:`aot_report` compiles every configuration the dispatcher can launch
(each metric, dtype, block size and warp count of :func:`~._prim_triton.prim_config`) for
sm_80 and sm_90 and returns one row per configuration and target; ``benchmarks/gpu_check.py
--aot`` prints the table and ``tests/test_prim_triton.py`` checks a subset in the suite.
Compiled kernels go to triton's on-disk cache and the ptxas / nvdisasm reports to
``~/.cache/corel_sklearn/aot``, so a second sweep takes seconds.
"""

import hashlib
import json
import os
import re
import subprocess
import tempfile

from corel_sklearn._files import atomic_write
from corel_sklearn._validation import METRIC_CODES
from corel_sklearn.pershom._prim_triton import (
    LAUNCH_NUMERICS,
    all_prim_configs,
    prim_signature,
)

TARGETS = (80, 90)  # A100 (sm_80) and H100/H200 (sm_90)
_DTYPES = ("fp32", "fp64")


def ptxas_path(capability):
    """Path of the ptxas triton uses for ``capability``, or None if it is missing."""
    try:
        from triton.backends.nvidia.compiler import get_ptxas
    except ImportError:
        return None
    try:
        path = get_ptxas(capability).path
    except Exception:  # triton raises when the binary is absent
        return None
    return path if path and os.path.exists(path) else None


def prim_launches(metrics=tuple(METRIC_CODES), dtypes=tuple(_DTYPES)):
    """Every Prim launch configuration: dicts of name, dtype, metric, constexprs, num_warps."""
    launches = []
    for dtype in dtypes:
        for config in all_prim_configs():
            config = dict(config)
            num_warps = config.pop("num_warps")
            for metric in metrics:
                launches.append({
                    "kernel": "prim", "dtype": dtype, "metric": metric,
                    "constexprs": {"METRIC": METRIC_CODES[metric], **config},
                    "num_warps": num_warps,
                })
    return launches


def representative_launches():
    """A few launches that bound the register use of all: per dtype the largest resident block
    (the most rows per thread) and the streaming kernel, and the one-warp kernel; every metric
    (l2 on the largest float32 block: its square root adds the most registers)."""
    chosen = []
    for dtype, metrics in (("fp32", ("l1", "l2")), ("fp64", ("l2", "linf"))):
        for resident, metric in enumerate(metrics):
            launches = [launch for launch in prim_launches((metric,), (dtype,))
                        if launch["constexprs"]["RESIDENT"] == resident]
            chosen.append(max(launches, key=lambda launch: launch["constexprs"]["BLOCK_B"]))
    one_warp = [launch for launch in prim_launches(("linf",), ("fp32",))
                if launch["num_warps"] == 1]
    chosen.append(max(one_warp, key=lambda launch: launch["constexprs"]["BLOCK_B"]))
    return chosen


def launch_label(launch):
    c = launch["constexprs"]
    shape = "resident" if c["RESIDENT"] else "streaming"
    return (f"{launch['kernel']} {launch['metric']:<4} {launch['dtype']} {shape:<9} "
            f"BLOCK_B={c['BLOCK_B']:<4} warps={launch['num_warps']}")


_PTXAS_USAGE = re.compile(r"Used (\d+) registers")
_PTXAS_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
_PTXAS_STACK = re.compile(r"(\d+) bytes stack frame")
_PTXAS_SMEM = re.compile(r"(\d+) bytes smem")


def _cache_path(*parts):
    """A file in corel_sklearn's cache folder named by the hash of ``parts``."""
    folder = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                          "corel_sklearn", "aot")
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()
    return os.path.join(folder, digest + ".json")


def _cached(function):
    """Memoise ``function(text, capability, ...)`` on disk (ptxas and nvdisasm take seconds)."""

    def wrapper(*args):
        path = _cache_path(function.__name__, ptxas_path(args[1]), *args)
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        result = function(*args)
        with atomic_write(path, "w") as f:
            json.dump(result, f)
        return result

    return wrapper


@_cached
def _ptxas_verbose(ptx, capability, arch):
    """Run ptxas -v as triton does (no fused multiply-adds) and parse its usage report."""
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "kernel.ptx")
        with open(source, "w") as f:
            f.write(ptx)
        fmad = [] if LAUNCH_NUMERICS["enable_fp_fusion"] else ["--fmad=false"]
        command = [ptxas_path(capability), "-v", *fmad, "--regAllocOptLevel=2",
                   f"--gpu-name={arch}", source, "-o", os.path.join(folder, "kernel.o")]
        log = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    usage = {"registers": int(_PTXAS_USAGE.search(log).group(1))}
    spills = _PTXAS_SPILLS.search(log)
    usage["spill_stores"], usage["spill_loads"] = int(spills.group(1)), int(spills.group(2))
    usage["stack"] = int(_PTXAS_STACK.search(log).group(1))
    smem = _PTXAS_SMEM.search(log)
    usage["ptxas_smem"] = int(smem.group(1)) if smem else 0
    return usage


def compile_launch(launch, capability):
    """Compile one launch configuration for sm_``capability``; returns its usage row.

    The row has the label, target, registers per thread, spill store/load bytes, stack frame
    bytes, shared memory bytes (triton's allocation), the kernel's SASS instruction count and
    its loop sizes (see :func:`_sass_summary`; ``None`` if nvdisasm is absent), and the counts
    of fused multiply-adds and approximate square roots in the PTX. Raises on a compile error.
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.backends.nvidia.compiler import sm_arch_from_capability
    from triton.compiler import ASTSource

    from corel_sklearn.pershom import _triton_kernels

    fn = getattr(_triton_kernels, f"{launch['kernel']}_kernel")
    source = ASTSource(fn=fn, signature=prim_signature(launch["dtype"]),
                       constexprs=launch["constexprs"])
    compiled = triton.compile(source, target=GPUTarget("cuda", capability, 32),
                              options={"num_warps": launch["num_warps"], **LAUNCH_NUMERICS})
    arch = sm_arch_from_capability(capability)
    row = {"label": launch_label(launch), "target": arch, **launch}
    row.update(_ptxas_verbose(compiled.asm["ptx"], capability, arch))
    row["shared"] = compiled.metadata.shared
    sass = _sass_instruction_count(compiled.asm["cubin"], capability)
    row["sass_instructions"] = sass and sass["instructions"]
    row["sass_loops"] = sass and sass["loops"]
    ptx = compiled.asm["ptx"]
    row["fused_multiply_adds"] = len(re.findall(r"\bfma\.", ptx))
    row["approximate_roots"] = len(re.findall(r"\bsqrt\.approx", ptx))
    return row


def _sass_instruction_count(cubin, capability):
    return _sass_summary(cubin.hex(), capability)


_SASS_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*)")
_SASS_LABEL = re.compile(r"^(\.L_x_\d+):")
_SASS_BRANCH = re.compile(r"BRA(?:\.U)?\s+`\((\.L_x_\d+)\)")


@_cached
def _sass_summary(cubin_hex, capability):
    """``{"instructions": n, "loops": [sizes]}`` of a cubin's SASS, or None without nvdisasm.

    Loops are found from backward branches (a branch to a label at or before it); their sizes
    in instructions are listed innermost (smallest) first, one-instruction idle loops left out.
    For the Prim kernel: the column loop, then (streaming) the row-block loop, then the step
    loop, each size including the loops nested in it.
    """
    cubin = bytes.fromhex(cubin_hex)
    nvdisasm = os.path.join(os.path.dirname(ptxas_path(capability) or ""), "nvdisasm")
    if not os.path.exists(nvdisasm):
        return None
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        result = subprocess.run([nvdisasm, "-c", f.name], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    labels, pending, branches, count = {}, [], [], 0
    for line in result.stdout.splitlines():
        label = _SASS_LABEL.match(line.strip())
        if label:
            pending.append(label.group(1))
            continue
        instruction = _SASS_LINE.search(line)
        if not instruction:
            continue
        count += 1
        address = int(instruction.group(1), 16) // 16
        labels.update((name, address) for name in pending)
        pending = []
        branch = _SASS_BRANCH.search(instruction.group(2))
        if branch:
            branches.append((address, branch.group(1)))
    loops = sorted(address - labels[name] + 1 for address, name in branches
                   if labels.get(name, address + 1) < address)
    return {"instructions": count, "loops": loops}


def aot_report(launches=None, targets=TARGETS):
    """Compile ``launches`` (default: all of them) for ``targets``; one row each.

    A configuration that fails to compile gives a row with an ``error`` and no usage figures.
    Needs triton's compiler, not its interpreter: run it with ``TRITON_INTERPRET`` unset.
    """
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        raise RuntimeError("ahead-of-time compilation needs TRITON_INTERPRET unset (or 0); "
                           "it is set, so triton would interpret the kernels instead.")
    rows = []
    for launch in prim_launches() if launches is None else launches:
        for capability in targets:
            try:
                rows.append(compile_launch(launch, capability))
            except Exception as error:  # reported, and makes the check fail
                rows.append({"label": launch_label(launch), "target": f"sm_{capability}",
                             "error": f"{type(error).__name__}: {str(error)[:300]}", **launch})
    return rows


def row_failures(rows):
    """The rows that fail the check: a compile error, a spill, a stack frame, or numerics other
    than promised (a fused multiply-add or an approximate square root in the PTX)."""
    return [row for row in rows if "error" in row or row["spill_stores"] or row["spill_loads"]
            or row["stack"] or row["fused_multiply_adds"] or row["approximate_roots"]]
