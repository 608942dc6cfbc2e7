"""The sandbox's audit hook (PEP 578), installed in the child just before the code runs.

Standard library only (the bootstrap loads this file's text into the child).
It refuses network access, writes outside the work folder, starting
processes, native code and the known ways around the hook itself.

The code it guards runs in the same interpreter, so the hook is built to give
that code nothing to change: every function here keeps what it uses in
positional default arguments (an immutable tuple; ``__defaults__`` cannot be
reassigned, see ``object.__setattr__`` below) rather than in globals, builtins
or closure cells, all of which the code could reach and rewrite (a refused
call's traceback leads to the hook's frame). Paths and modes are copied to
exact ``str`` before they are judged, so a ``str`` subclass or a ``__fspath__``
that answers differently the second time cannot lie to it. It stays a guard,
not a wall: PEP 578 says plainly that hooks can be bypassed by determined
native-level code; the kernel layers are the walls.
"""

import pathlib
import posix
import stat
import sys

_PATHS_WRITTEN = (  # event: indexes of the path arguments it writes to
    ("os.remove", (0,)), ("os.rmdir", (0,)), ("os.mkdir", (0,)), ("os.rename", (0, 1)),
    ("os.link", (0, 1)), ("os.truncate", (0,)), ("os.chmod", (0,)), ("os.chown", (0,)),
    ("os.utime", (0,)), ("os.chflags", (0,)), ("os.lchflags", (0,)), ("os.lchmod", (0,)),
    ("os.mkfifo", (0,)), ("os.mknod", (0,)), ("os.setxattr", (0,)), ("os.removexattr", (0,)),
    ("shutil.rmtree", (0,)), ("shutil.copyfile", (1,)), ("shutil.copymode", (1,)),
    ("shutil.copystat", (1,)), ("shutil.move", (1,)), ("shutil.copytree", (1,)),
    ("shutil.unpack_archive", (1,)), ("shutil.make_archive", (0,)),
)  # fmt: skip
_NETWORK = frozenset({
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
    "socket.getnameinfo",
})  # fmt: skip
_SPAWNING = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "subprocess.Popen", "os.startfile", "pty.spawn",
})  # fmt: skip
# Ways around the hook: native code, walking objects to the hook's, tracing its frames.
_ESCAPES = frozenset({
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.cdata", "gc.get_objects",
    "gc.get_referrers", "gc.get_referents", "sys._current_frames",
    "cpython.PyInterpreterState_New", "sys.settrace", "sys.setprofile",
})  # fmt: skip
# Modules that start processes without raising an audit event of their own.
_REFUSED_IMPORTS = frozenset({"_posixsubprocess"})


def _make_resolve(lstat=posix.lstat, readlink=posix.readlink, getcwd=posix.getcwd,
                  is_link=stat.S_ISLNK, OSError_=OSError, enumerate_=enumerate):  # fmt: skip
    def resolve(path, _lstat=lstat, _readlink=readlink, _getcwd=getcwd, _is_link=is_link,
                _OSError=OSError_, _enumerate=enumerate_):  # fmt: skip
        """An absolute, symlink-free form of ``path`` (an exact str; missing tail kept as is)."""
        for _hop in (0,) * 41:  # the kernel follows at most 40 symlinks, then fails (ELOOP)
            if not path.startswith("/"):
                path = _getcwd() + "/" + path
            parts = []
            for part in path.split("/"):
                if part and part != ".":
                    parts.append(part)
            out, restart = "", None
            for i, part in _enumerate(parts):
                if part == "..":
                    out = out.rsplit("/", 1)[0]
                    continue
                candidate = out + "/" + part
                try:
                    linked = _is_link(_lstat(candidate).st_mode)
                except _OSError:
                    linked = False
                if linked:
                    target = _readlink(candidate)
                    target = target if target.startswith("/") else out + "/" + target
                    restart = target + "/" + "/".join(parts[i + 1 :])
                    break
                out = candidate
            if restart is None:
                return out or "/"
            path = restart
        return ""  # more than 40 symlinks: the kernel refuses; judged outside

    return resolve


def _make_text(fspath=posix.fspath, concat=str.__add__, decode=bytes.decode,
               TypeError_=TypeError, type_=type):  # fmt: skip
    # The path types whose __fspath__ is the standard library's, computed from immutable state.
    trusted = (pathlib.PurePosixPath, pathlib.PosixPath, posix.DirEntry)

    def text(path, _trusted=trusted, _fspath=fspath, _concat=concat, _decode=decode,
             _TypeError=TypeError_, _type=type_):  # fmt: skip
        """``path`` as an exact str, or None when it is something else."""
        kind = _type(path)
        for t in _trusted:
            if kind is t:
                path = _fspath(path)
                break
        try:
            return _concat("", path)  # an exact copy; TypeError unless a real str
        except _TypeError:
            pass
        try:
            return _decode(path, "utf-8", "surrogateescape")
        except _TypeError:
            return None

    return text


def _make_inside(workdir, text, resolve, index=int.__index__, TypeError_=TypeError,
                 Exception_=Exception):  # fmt: skip
    root = workdir.rstrip("/") + "/"

    def inside(path, _root=root, _text=text, _resolve=resolve, _index=index,
               _TypeError=TypeError_, _Exception=Exception_):  # fmt: skip
        """True when a write to ``path`` stays in the work folder.

        Events do not say whether a ``dir_fd`` was given, so a path is judged
        from the working folder. That is sound when every folder fd is inside
        (os.open of an outside folder is refused), no symlink points out (see
        os.symlink) and relative paths have no ``..`` (refused here).
        """
        try:
            _index(path)
            return True  # an already open file descriptor
        except _TypeError:
            pass
        try:
            path = _text(path)
            if path is None:
                return False
            if not path.startswith("/") and ".." in path.split("/"):
                return False
            full = _resolve(path)
        except _Exception:
            return False
        return full == _root[:-1] or full.startswith(_root)

    return inside


def _refuse(what, _PermissionError=PermissionError):
    raise _PermissionError(f"sandbox: {what} is not allowed")


def install(workdir):
    """Install the hook, and make ``_posixsubprocess`` a stub whose ``fork_exec`` refuses."""
    resolve = _make_resolve()
    text = _make_text()
    inside = _make_inside(workdir, text, resolve)

    def fork_exec(*args, **kwargs):
        _refuse("starting processes (_posixsubprocess.fork_exec)")

    stub = type(sys)("_posixsubprocess")
    stub.fork_exec = fork_exec
    # Everything the hook relies on: assigning to these objects' attributes is refused.
    guarded = [resolve, text, inside, _refuse, fork_exec, *pathlib.PosixPath.__mro__[:-1]]
    write_flags = posix.O_WRONLY | posix.O_RDWR | posix.O_CREAT | posix.O_TRUNC | posix.O_APPEND
    written_events = frozenset(name for name, _ in _PATHS_WRITTEN)

    def hook(event, args, _inside=inside, _text=text, _resolve=resolve, _refuse=_refuse,
             _written=written_events, _paths_written=_PATHS_WRITTEN, _network=_NETWORK,
             _spawning=_SPAWNING, _escapes=_ESCAPES, _imports=_REFUSED_IMPORTS,
             _write_flags=write_flags, _index=int.__index__, _isdir=stat.S_ISDIR,
             _stat=posix.stat, _getpid=posix.getpid, _len=len, _guarded=None,
             _Exception=Exception, _TypeError=TypeError):  # fmt: skip
        if event == "open":
            path, mode, flags = args
            try:
                _index(path)
                return  # an already open file descriptor
            except _TypeError:
                pass
            text = _text(path)
            if text is None:
                _refuse(f"opening {path!r} (a path of an unusual type)")
            if mode is None:
                try:
                    writes = (_index(flags) & _write_flags) != 0
                except _TypeError:
                    writes = True
            else:
                mode = _text(mode) or ""
                writes = "w" in mode or "a" in mode or "x" in mode or "+" in mode
            if writes and not _inside(text):
                _refuse(f"writing {text!r} (outside the work folder)")
            # A folder fd outside would let `dir_fd=` calls write there unseen (the events
            # do not carry dir_fd), so os.open of an outside folder is refused.
            if mode is None and not _inside(text):
                try:
                    is_dir = _isdir(_stat(text).st_mode)
                except _Exception:
                    is_dir = False
                if is_dir:
                    _refuse(f"os.open of the folder {text!r} (outside the work folder)")
        elif event == "os.symlink":
            src, dst = _text(args[0]), _text(args[1])
            if src is None or dst is None:
                _refuse("a symlink with an unusual path type")
            target = src if src.startswith("/") else _resolve(dst).rsplit("/", 1)[0] + "/" + src
            if not _inside(dst) or not _inside(target):
                _refuse(f"a symlink from {dst!r} to {src!r} (outside the work folder)")
        elif event in _written:
            for name, indexes in _paths_written:
                if name == event:
                    for i in indexes:
                        if i < _len(args) and args[i] is not None and not _inside(args[i]):
                            _refuse(f"{event} on {args[i]!r} (outside the work folder)")
            # A setuid file made by root in the sandbox would be root's for anyone to run.
            if event == "os.chmod" and _index(args[1]) & 0o6000:
                _refuse("setting the setuid or setgid bit (os.chmod)")
        elif event in _network:
            _refuse(f"network access ({event})")
        elif event in _spawning:
            _refuse(f"starting processes ({event})")
        elif event in _escapes:
            _refuse(f"{event}")
        elif event == "import" and args[0] in _imports:
            _refuse(f"importing {args[0]} (it starts processes unchecked)")
        elif event in ("os.kill", "os.killpg") and args[0] != _getpid():
            _refuse(f"signalling other processes ({event})")
        elif event in ("object.__setattr__", "object.__delattr__"):
            for obj in _guarded:
                if args[0] is obj:
                    _refuse("changing the sandbox's own functions")

    guarded.append(hook)
    defaults = list(hook.__defaults__)
    defaults[hook.__code__.co_varnames.index("_guarded") - 2] = tuple(guarded)
    hook.__defaults__ = tuple(defaults)  # before the hook is on: this one assignment is allowed
    # Normally nothing has imported it yet; if something has, swap every reference to it
    # (subprocess keeps `from _posixsubprocess import fork_exec as _fork_exec`).
    real = sys.modules.pop("_posixsubprocess", None)
    if real is not None:
        for module in list(sys.modules.values()):
            for name, value in list(getattr(module, "__dict__", {}).items()):
                if value is real or value is getattr(real, "fork_exec", None):
                    setattr(module, name, stub if value is real else fork_exec)
    sys.modules["_posixsubprocess"] = stub
    sys.addaudithook(hook)
