"""Runs *inside* the sandbox child (``python -I -B -X utf8 -c <this file's text> <config>``).

It must not import dramaturg: the child runs in isolated mode. Order matters:
1. read the user's code and the config (before anything is locked);
2. Landlock (kernel): no file writes outside the work folder, no exec, no
   TCP, no signals to outside processes; inherited and irreversible;
3. the audit hook (interpreter): refuse network, writes outside the work
   folder, process spawning and the usual ways around the hook itself;
4. run the code as ``__main__``.
"""

import sys


def _landlock(workdir):
    """Restrict this process with Landlock; returns the ABI used, or 0 when unavailable."""
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    create, add_rule, restrict = 444, 445, 446  # same numbers on every architecture
    abi = libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return 0
    fs = (
        (1 << 0) | (1 << 1) | sum(1 << b for b in range(4, 13))
    )  # execute, write_file, remove/make *
    if abi >= 2:
        fs |= 1 << 13  # refer (links and renames across folders)
    if abi >= 3:
        fs |= 1 << 14  # truncate
    net = 0b11 if abi >= 4 else 0  # bind_tcp, connect_tcp
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = Ruleset(fs, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    try:
        rules = [(workdir, fs & ~1)]  # everything but execute inside the work folder
        if os.path.exists("/dev/null"):
            rules.append(("/dev/null", (1 << 1) | ((1 << 14) if abi >= 3 else 0)))
        for path, allowed in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                if os.path.isfile(path) or not os.path.isdir(path):
                    allowed &= (1 << 1) | (1 << 14) | 1  # file rules take file rights only
                rule = PathBeneath(allowed, fd)
                if libc.syscall(add_rule, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    return 0
            finally:
                os.close(fd)
        if (
            libc.prctl(38, 1, 0, 0, 0) != 0
        ):  # PR_SET_NO_NEW_PRIVS, required by landlock_restrict_self
            return 0
        if libc.syscall(restrict, ruleset, ctypes.c_uint32(0)) != 0:
            return 0
    finally:
        os.close(ruleset)
    return abi


def _audit_hook(workdir):
    """Install the hook; it keeps private references so user code cannot re-point them."""
    import posix
    import stat

    lstat, readlink, getcwd, getpid = posix.lstat, posix.readlink, posix.getcwd, posix.getpid
    s_islnk, s_isdir, fspath, pstat = stat.S_ISLNK, stat.S_ISDIR, posix.fspath, posix.stat
    write_flags = posix.O_WRONLY | posix.O_RDWR | posix.O_CREAT | posix.O_TRUNC | posix.O_APPEND
    root = workdir.rstrip("/") + "/"

    def resolve(path, depth=0):
        """An absolute, symlink-free form of ``path`` (missing tail components kept as is)."""
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        parts, out = [p for p in path.split("/") if p and p != "."], ""
        for i, part in enumerate(parts):
            if part == "..":
                out = out.rsplit("/", 1)[0]
                continue
            candidate = out + "/" + part
            try:
                is_link = s_islnk(lstat(candidate).st_mode)
            except OSError:
                is_link = False
            if is_link and depth < 40:
                target = readlink(candidate)
                target = target if target.startswith("/") else out + "/" + target
                return resolve(target + "/" + "/".join(parts[i + 1 :]), depth + 1)
            out = candidate
        return out or "/"

    def inside(path):
        """True when a write to ``path`` stays in the work folder.

        Events do not say whether a ``dir_fd`` was given, so a path is judged
        from the working folder. That is sound when every folder fd is inside
        (os.open of an outside folder is refused), no symlink points out (see
        os.symlink) and relative paths have no ``..`` (refused here).
        """
        if isinstance(path, int):  # an already open file descriptor
            return True
        try:
            path = fspath(path)
            if isinstance(path, bytes):
                path = path.decode("utf-8", "surrogateescape")
            if not path.startswith("/") and ".." in path.split("/"):
                return False
            full = resolve(path)
        except Exception:
            return False
        return full == root[:-1] or full.startswith(root)

    def refuse(what):
        raise PermissionError(f"sandbox: {what} is not allowed")

    paths_written = {
        "os.remove": (0,),
        "os.rmdir": (0,),
        "os.mkdir": (0,),
        "os.rename": (0, 1),
        "os.link": (0, 1),
        "os.truncate": (0,),
        "os.chmod": (0,),
        "os.chown": (0,),
        "os.utime": (0,),
        "os.chflags": (0,),
        "os.lchflags": (0,),
        "os.lchmod": (0,),
        "os.mkfifo": (0,),
        "os.mknod": (0,),
        "os.setxattr": (0,),
        "os.removexattr": (0,),
        "shutil.rmtree": (0,),
        "shutil.copyfile": (1,),
        "shutil.copymode": (1,),
        "shutil.copystat": (1,),
        "shutil.move": (1,),
        "shutil.copytree": (1,),
        "shutil.unpack_archive": (1,),
        "shutil.make_archive": (0,),
    }
    network = {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
    spawning = {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "subprocess.Popen",
        "os.startfile",
        "pty.spawn",
    }
    # Ways around the hook: native code, reaching the hook's objects, rewriting functions.
    escapes = {
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.call_function",
        "ctypes.cdata",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys._current_frames",
        "cpython.PyInterpreterState_New",
    }

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writes = (mode is not None and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & write_flags
            )
            if writes and not inside(path):
                refuse(f"writing {path!r} (outside the work folder)")
            # A folder fd outside would let `dir_fd=` calls write there unseen (the events
            # do not carry dir_fd), so os.open of an outside folder is refused.
            if mode is None and not isinstance(path, int) and not inside(path):
                try:
                    is_dir = s_isdir(pstat(path).st_mode)
                except (OSError, TypeError, ValueError):
                    is_dir = False
                if is_dir:
                    refuse(f"os.open of the folder {path!r} (outside the work folder)")
        elif event == "os.symlink":
            src, dst = fspath(args[0]), fspath(args[1])
            src = src.decode("utf-8", "surrogateescape") if isinstance(src, bytes) else src
            target = src if src.startswith("/") else resolve(dst).rsplit("/", 1)[0] + "/" + src
            if not inside(dst) or not inside(target):
                refuse(f"a symlink from {dst!r} to {src!r} (outside the work folder)")
        elif event in paths_written:
            for index in paths_written[event]:
                if index < len(args) and args[index] is not None and not inside(args[index]):
                    refuse(f"{event} on {args[index]!r} (outside the work folder)")
        elif event in network:
            refuse(f"network access ({event})")
        elif event in spawning:
            refuse(f"starting processes ({event})")
        elif event in escapes:
            refuse(f"{event}")
        elif event in ("os.kill", "os.killpg") and args[0] != getpid():
            refuse(f"signalling other processes ({event})")
        elif event in ("object.__setattr__", "object.__delattr__") and any(
            args[0] is f for f in own
        ):
            refuse("changing the sandbox's own functions")

    own = (hook, resolve, inside, refuse)
    sys.addaudithook(hook)


def _main():
    import json
    import os

    config = json.loads(sys.argv[1])
    with open(config["code_path"], encoding="utf-8") as f:
        source = f.read()
    status = os.fdopen(
        os.open(config["status_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w"
    )
    os.chdir(config["workdir"])
    layers = {"landlock": 0, "audit_hook": False}
    if config["landlock"]:
        try:
            layers["landlock"] = _landlock(config["workdir"])
        except Exception:
            layers["landlock"] = 0
    if config["audit_hook"]:
        _audit_hook(config["workdir"])
        layers["audit_hook"] = True
    try:
        layers["netns"] = os.readlink("/proc/self/ns/net") != config["parent_netns"]
    except OSError:
        layers["netns"] = False
    status.write(json.dumps(layers))
    status.close()
    sys.argv = ["<code>"]
    sys.path[0] = config["workdir"]
    module = type(sys)("__main__")
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    try:
        code = compile(source, "<code>", "exec")
    except SyntaxError:
        import traceback

        traceback.print_exc(limit=0)
        sys.exit(1)
    del source, config
    try:
        exec(code, module.__dict__)
    except MemoryError:
        sys.stderr.write("MemoryError: the sandbox's memory limit was reached\n")
        sys.stderr.flush()
        os._exit(MEMORY_EXIT)
    except SystemExit:
        raise
    except BaseException as exc:
        import traceback

        # Show the user's frames (and the library's), not this bootstrap's or the hook's.
        report = traceback.TracebackException(type(exc), exc, exc.__traceback__.tb_next)
        report.stack = traceback.StackSummary.from_list(
            [f for f in report.stack if f.filename != "<string>"]
        )
        sys.stderr.write("".join(report.format()))
        sys.exit(1)


MEMORY_EXIT = 86
_main()
