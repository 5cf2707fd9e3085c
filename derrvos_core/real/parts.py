"""Loading the converted ONNX parts; a missing or corrupt file names itself and the command that makes it."""
from __future__ import annotations

from pathlib import Path

from derrvos_core.errors import CheckpointError
from derrvos_core.real.config import CONVERT_COMMAND


def load_onnx(path: Path, threads: int):
    """An onnxruntime CPU session for `path`, with `threads` intra-op threads.

    Raises:
        CheckpointError: the file is missing, empty or not a loadable ONNX model; the message names the
            file and `CONVERT_COMMAND`.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file {path} is missing; make it with `{CONVERT_COMMAND}`")
    if path.stat().st_size == 0:
        raise CheckpointError(f"model file {path} is empty (corrupt); remake it with `{CONVERT_COMMAND}`")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Several sessions (detector, person model) alternate on the same cores: threads that spin after a
    # run steal the cores from the next session's run (the detector ran 3x slower between person calls).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        raise CheckpointError(f"model file {path} cannot be loaded ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]}); it is corrupt or of another kind: "
                              f"remake it with `{CONVERT_COMMAND}`") from exc


def single_input(session, path: Path) -> tuple[str, list]:
    """The name and shape of a session's only input; CheckpointError if it has several."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise CheckpointError(f"model file {path} has {len(inputs)} inputs, expected 1; remake it with "
                              f"`{CONVERT_COMMAND}`")
    return inputs[0].name, list(inputs[0].shape)
