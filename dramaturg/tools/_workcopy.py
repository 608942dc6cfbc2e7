"""Copy the work folder into the sandbox's size-capped tmpfs, and the changes back out.

Standard library only (the bootstrap loads this file's text into the child).
Both copies run in the sandbox's trusted supervisor while none of the code's
processes is alive. The host side is reached only through folder descriptors
opened with ``O_NOFOLLOW``, so a symlink the code left behind (copied as a
symlink) is never followed, whatever it points to. Only regular files,
folders and symlinks are copied; devices, FIFOs and sockets are left out.

Copying back applies only what changed in this run (compared with the
snapshot taken after copying in), so two runs sharing a folder at the same
time do not undo each other's files.
"""

import os
import stat

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
_SAFE_MODE = 0o1777  # no setuid or setgid bit is ever copied: they would be root's


def _walk(dir_fd, rel=""):
    """Yield ``(rel, lstat, parent_fd, name)`` under ``dir_fd``, parents first, no symlink followed."""
    with os.scandir(dir_fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        st = entry.stat(follow_symlinks=False)
        yield path, st, dir_fd, entry.name
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(entry.name, _DIR, dir_fd=dir_fd)
            try:
                yield from _walk(fd, path)
            finally:
                os.close(fd)


def _signature(st, parent_fd, name):
    """What identifies an entry's content, or None for a kind that is not copied."""
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        return ("d", mode)
    if stat.S_ISREG(st.st_mode):
        # ctime too: it changes on every write and cannot be set back by the code.
        return ("f", st.st_size, st.st_mtime_ns, st.st_ctime_ns, mode)
    if stat.S_ISLNK(st.st_mode):
        return ("l", os.readlink(name, dir_fd=parent_fd))
    return None


def snapshot(dir_fd):
    """``{relative path: signature}`` for every copied kind of entry under ``dir_fd``."""
    out = {}
    for rel, st, parent, name in _walk(dir_fd):
        sig = _signature(st, parent, name)
        if sig is not None:
            out[rel] = sig
    return out


def usage(dir_fd):
    """``(bytes, entries)`` the tree under ``dir_fd`` needs in a tmpfs (data rounded to pages)."""
    size = entries = 0
    for _rel, st, _parent, _name in _walk(dir_fd):
        entries += 1
        if stat.S_ISREG(st.st_mode):
            size += -(-st.st_size // 4096) * 4096
        elif stat.S_ISLNK(st.st_mode):
            size += 4096  # a long target takes a page
    return size, entries


def _copy_file(src_fd, dst_parent, name, st, chown):
    tmp = f".dramaturg-copy-{os.getpid()}-{name}"[:250]
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o600, dir_fd=dst_parent)  # fmt: skip
    try:
        while chunk := os.read(src_fd, _CHUNK):
            os.write(out, chunk)
        if chown:
            _best_effort(os.fchown, out, st.st_uid, st.st_gid)
        os.fchmod(out, stat.S_IMODE(st.st_mode) & _SAFE_MODE)
        os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(out)
    _replace(dst_parent, tmp, name)


def _best_effort(function, *args, **kwargs):
    """Ownership is kept where it can be (in a user namespace, other users are not mapped)."""
    try:
        function(*args, **kwargs)
    except OSError:
        pass


def _replace(parent, tmp, name):
    """Rename ``tmp`` over ``name``, removing a folder that is in the way."""
    try:
        if _is_dir(parent, name):
            import shutil  # here: most runs never need it, and importing it takes time

            shutil.rmtree(name, dir_fd=parent)  # fd-based: never follows a symlink
        os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
    except OSError:
        os.unlink(tmp, dir_fd=parent)
        raise


def _is_dir(parent, name):
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _open_dir(parent, name, mode=0o755):
    """Open folder ``name`` under ``parent``, replacing a symlink or file that is there."""
    try:
        return os.open(name, _DIR, dir_fd=parent)
    except FileNotFoundError:
        pass
    except OSError:  # ELOOP for a symlink, ENOTDIR for a file
        if _is_dir(parent, name):
            raise
        os.unlink(name, dir_fd=parent)
    os.mkdir(name, mode, dir_fd=parent)
    return os.open(name, _DIR, dir_fd=parent)


def _put(src_root, dst_root, rel, sig, chown):
    """Create or replace ``rel`` under ``dst_root`` (a folder fd) from ``src_root`` (a folder fd)."""
    *folders, name = rel.split("/")
    src = dst = None
    try:
        src, dst = os.dup(src_root), os.dup(dst_root)
        for folder in folders:
            src, old = os.open(folder, _DIR, dir_fd=src), src
            os.close(old)
            dst, old = _open_dir(dst, folder), dst
            os.close(old)
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        if sig[0] == "d":
            fd = _open_dir(dst, name, sig[1] & _SAFE_MODE)
            try:
                if chown:
                    _best_effort(os.fchown, fd, st.st_uid, st.st_gid)
                os.fchmod(fd, sig[1] & _SAFE_MODE)
            finally:
                os.close(fd)
        elif sig[0] == "l":
            tmp = f".dramaturg-link-{os.getpid()}-{name}"[:250]
            os.symlink(sig[1], tmp, dir_fd=dst)
            if chown:
                _best_effort(os.chown, tmp, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
            _replace(dst, tmp, name)
        else:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            try:
                _copy_file(fd, dst, name, st, chown)
            finally:
                os.close(fd)
    finally:
        for fd in (src, dst):
            if fd is not None:
                os.close(fd)


def _remove(dst_root, rel, sig):
    *folders, name = rel.split("/")
    dst = os.dup(dst_root)
    try:
        for folder in folders:
            dst, old = os.open(folder, _DIR, dir_fd=dst), dst
            os.close(old)
        if sig[0] == "d":
            os.rmdir(name, dir_fd=dst)
        elif not _is_dir(dst, name):
            os.unlink(name, dir_fd=dst)
    finally:
        os.close(dst)


def copy_in(host_fd, dest_fd):
    """Copy the host folder into the (empty) tmpfs; returns the tmpfs's snapshot afterwards."""
    chown = os.geteuid() == 0
    for rel, st, parent, name in _walk(host_fd):
        sig = _signature(st, parent, name)
        if sig is not None:
            _put(host_fd, dest_fd, rel, sig, chown)
    return snapshot(dest_fd)


def copy_out(src_fd, host_fd, before):
    """Apply to the host folder what changed in the tmpfs since ``before``; returns the errors."""
    after = snapshot(src_fd)
    errors = []
    for rel in sorted(before.keys() - after.keys(), key=lambda r: -r.count("/")):
        try:
            _remove(host_fd, rel, before[rel])
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError | NotADirectoryError):
                errors.append(f"removing {rel}: {exc.strerror}")
    chown = os.geteuid() == 0
    for rel in sorted(after):  # a folder sorts before what it holds
        if before.get(rel) != after[rel]:
            try:
                _put(src_fd, host_fd, rel, after[rel], chown)
            except OSError as exc:
                errors.append(f"saving {rel}: {exc.strerror or exc}")
    return errors
