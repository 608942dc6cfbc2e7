"""Kernel confinement for the sandbox child: Landlock, namespaces, mounts, capabilities, seccomp.

Standard library only: the sandbox's bootstrap loads this file's text into
the child (which runs in isolated mode and must not import dramaturg). Every
function either applies its layer and returns true, or returns false (or
raises ``OSError``) where the kernel or the privileges here do not allow it;
none of them half-applies a layer silently.
"""

import ctypes
import errno
import os
import signal
import struct

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_BIND = 2, 4, 8, 4096
_MS_MOVE, _MS_REC, _MS_PRIVATE = 8192, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_CHILD_SUBREAPER = 1, 24, 36
_PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_SET_SECCOMP = 38, 47, 22
_DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


def _prctl(option, arg=0):
    return _libc.prctl(option, arg, 0, 0, 0) == 0


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags):
    """``unshare(2)``; true when it worked (it needs root or ``CAP_SYS_ADMIN``)."""
    return _libc.unshare(flags) == 0


def enter_user_namespace():
    """Enter a new user namespace, this uid and gid mapped to themselves; false if refused.

    Needs no privilege where the kernel allows unprivileged user namespaces, and
    gives this process the capabilities to make the other namespaces (within it
    only). Processes in it cannot ptrace, so cannot read the environment or
    memory of, processes outside it, even those of the same user. Tried in a
    throwaway child first: a namespace entered but left unmapped cannot be left.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if _enter_user_namespace() else 1)
        except BaseException:
            os._exit(1)
    if os.waitpid(pid, 0)[1] != 0:
        return False
    return _enter_user_namespace()


def _enter_user_namespace():
    uid, gid = os.geteuid(), os.getegid()
    if not unshare(CLONE_NEWUSER):
        return False
    # Mapping uid 0 needs CAP_SETFCAP outside (Linux >= 5.12): root without it fails here.
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    return True


def mount(source, target, fstype=None, flags=0, data=None):
    """``mount(2)``; raises ``OSError`` on failure."""
    source, target, fstype, data = (None if s is None else os.fsencode(s)
                                    for s in (source, target, fstype, data))  # fmt: skip
    _check(_libc.mount(source, target, fstype, flags, data), f"mount {os.fsdecode(target)}")


def private_mounts():
    """Stop mounts made here from propagating to the host (after ``unshare(CLONE_NEWNS)``)."""
    mount(None, "/", None, _MS_REC | _MS_PRIVATE)


def fresh_proc():
    """A new /proc for this PID namespace: it lists only the sandbox's own processes."""
    mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def private_dev(stage):
    """Replace /dev by a tiny tmpfs holding only null, zero, full, random and urandom.

    Hides disks, memory and terminals. The devices are bind-mounted into
    ``stage`` (an empty folder) first, then the whole tmpfs is moved onto /dev.
    """
    options = "size=64k,nr_inodes=64,mode=755"
    mount("dramaturg-dev", stage, "tmpfs", _MS_NOSUID | _MS_NOEXEC, options)
    for name in _DEVICES:
        path = f"{stage}/{name}"
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o666))
        mount(f"/dev/{name}", path, None, _MS_BIND)
    os.symlink("/proc/self/fd", f"{stage}/fd")
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{fd}", f"{stage}/{name}")
    mount(stage, "/dev", None, _MS_MOVE)


def work_tmpfs(path, size_bytes, inodes, mode):
    """Mount a size-capped tmpfs on ``path`` (device files in it do not work)."""
    options = f"size={max(size_bytes, 4096)},nr_inodes={inodes},mode={mode & 0o7777:o}"
    mount("dramaturg-work", path, "tmpfs", _MS_NOSUID | _MS_NODEV, options)


def die_with_parent():
    """SIGKILL this process when its parent dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper():
    """Orphaned descendants are re-parented to this process instead of the host's init."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _children():
    pid = os.getpid()
    found = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.update(int(p) for p in f.read().split())
        return found
    except OSError:  # no CONFIG_PROC_CHILDREN: scan every process's parent instead
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, ValueError, IndexError):
                continue
        return found


def kill_descendants():
    """SIGKILL every descendant (a subreaper's orphans included) until none is left."""
    for _ in range(10_000):  # bounded: each round kills at least one process
        children = _children()
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def drop_capabilities():
    """Empty the capability sets and the bounding set; true when none is left.

    Root keeps its uid, so the owner bits of root's files still apply, but it
    loses what makes root special: ptrace of other processes (so no reading of
    another process's environment or memory), mknod, module loading, raw I/O,
    mounts, and the rest.
    """
    for cap in range(64):
        if not _prctl(_PR_CAPBSET_DROP, cap) and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    _prctl(_PR_CAP_AMBIENT, 4)  # PR_CAP_AMBIENT_CLEAR_ALL
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _libc.capset(header, (ctypes.c_uint32 * 6)())
    with open("/proc/self/status") as f:
        caps = dict(line.split(":\t") for line in f if line.startswith("Cap"))
    return all(int(caps.get(key, "1"), 16) == 0 for key in ("CapEff", "CapPrm"))


# seccomp-BPF: (code, k, jump-if-true, jump-if-false); a jump is 0 or a label.
_ARCHES = {  # machine: (AUDIT_ARCH_*, {syscall: number}); fork/vfork do not exist on arm64
    "x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "socket": 41}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435, "socket": 198}),
}
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_CLONE_THREAD, _AF_UNIX = 0x00010000, 1


def _assemble(program):
    labels, code = {}, []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = []
    for pc, (op, k, jt, jf) in enumerate(code):
        jt, jf = (labels[j] - pc - 1 if isinstance(j, str) else j for j in (jt, jf))
        out.append(struct.pack("=HBBI", op, jt, jf, k))
    return b"".join(out)


def restrict_syscalls():
    """A seccomp filter: no new processes, and no Unix sockets but ``socketpair``.

    Threads may be created, processes may not (fork, vfork, clone without
    CLONE_THREAD); ``clone3`` answers ENOSYS so that glibc falls back to
    ``clone``, whose flags can be checked. ``socket(AF_UNIX)`` is refused: a
    Unix socket's path is reachable from any network namespace (the Docker or
    systemd socket, say), and no other layer but the audit hook stops a
    connect. ``socketpair`` (asyncio's self-pipe) still works. Needs no
    privilege (it sets no_new_privs); false on an architecture this does not know.
    """
    arch = _ARCHES.get(os.uname().machine)
    if arch is None:
        return False
    audit_arch, nr = arch
    program = [(_LD, 4, 0, 0), (_JEQ, audit_arch, 0, "deny"), (_LD, 0, 0, 0)]
    if "fork" in nr:  # x86_64: x32 syscalls carry bit 30; refuse them all
        program.append((_JGE, 0x40000000, "deny", 0))
    program += [(_JEQ, nr[name], "deny", 0) for name in ("fork", "vfork") if name in nr]
    program += [
        (_JEQ, nr["socket"], "socket", 0),
        (_JEQ, nr["clone3"], "enosys", 0),
        (_JEQ, nr["clone"], 0, "allow"),
        (_LD, 16, 0, 0),  # the low half of clone's first argument, the flags
        (_JSET, _CLONE_THREAD, "allow", "deny"),
        "socket", (_LD, 16, 0, 0), (_JEQ, _AF_UNIX, "deny", "allow"),  # its domain
        "allow", (_RET, _ALLOW, 0, 0),
        "deny", (_RET, _ERRNO | errno.EPERM, 0, 0),
        "enosys", (_RET, _ERRNO | errno.ENOSYS, 0, 0),
    ]  # fmt: skip
    code = _assemble(program)
    buf = ctypes.create_string_buffer(code, len(code))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(code) // 8, ctypes.addressof(buf))
    if not _prctl(_PR_SET_NO_NEW_PRIVS, 1):
        return False
    return _libc.prctl(_PR_SET_SECCOMP, 2, ctypes.addressof(prog), 0, 0) == 0  # FILTER mode


def landlock(workdir):
    """Restrict this process with Landlock; returns the ABI used, or 0 when unavailable.

    Inside the work folder everything but execute and device creation is allowed.
    """
    create, add_rule, restrict = 444, 445, 446  # same numbers on every architecture
    abi = _libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return 0
    # execute, write_file, remove/make * (bits 4-12)
    fs = (1 << 0) | (1 << 1) | sum(1 << b for b in range(4, 13))
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
    ruleset = _libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    try:
        # No execute, and no make_char / make_block: a device node would reach raw disks.
        rules = [(workdir, fs & ~((1 << 0) | (1 << 6) | (1 << 11)))]
        if os.path.exists("/dev/null"):
            rules.append(("/dev/null", (1 << 1) | ((1 << 14) if abi >= 3 else 0)))
        for path, allowed in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                if os.path.isfile(path) or not os.path.isdir(path):
                    allowed &= (1 << 1) | (1 << 14) | 1  # file rules take file rights only
                rule = PathBeneath(allowed, fd)
                if _libc.syscall(add_rule, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0)):
                    return 0
            finally:
                os.close(fd)
        if not _prctl(_PR_SET_NO_NEW_PRIVS, 1):  # required by landlock_restrict_self
            return 0
        if _libc.syscall(restrict, ruleset, ctypes.c_uint32(0)) != 0:
            return 0
    finally:
        os.close(ruleset)
    return abi
