/*
 * core/file.c - private files of the SQLite stores (see file.h).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/rand.h"
#include "core/secret.h"

opc_err opc__file_make_parent(const char *what, const char *path, opc__ebuf *eb)
{
    char *dir = opc__strdup(path);
    if (dir == NULL) {
        return OPC_ERR_NOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        opc__free(dir);
        return OPC_OK;
    }
    *slash = '\0';
    opc_err rc = OPC_OK;
    for (char *p = dir + 1; rc == OPC_OK; p++) {
        bool end = (*p == '\0');
        if (*p != '/' && !end) {
            continue;
        }
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0700) == 0) {
            if (chmod(dir, 0700) != 0) {
                rc = opc__fail(eb, OPC_ERR_IO, "%s: cannot set the mode of %s: %s", what, dir,
                               strerror(errno));
            }
        } else if (errno != EEXIST) {
            rc = opc__fail(eb, OPC_ERR_IO, "%s: cannot create %s: %s", what, dir, strerror(errno));
        }
        *p = saved;
        if (end) {
            break;
        }
    }
    opc__free(dir);
    return rc;
}

opc_err opc__file_create_private(const char *what, const char *path, opc__ebuf *eb)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return opc__fail(eb, OPC_ERR_IO, "%s: cannot create %s: %s", what, path, strerror(errno));
    }
    struct stat sb;
    opc_err rc = OPC_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = opc__fail(eb, OPC_ERR_IO, "%s: %s is not a regular file", what, path);
    } else if ((sb.st_mode & 0077) != 0 && fchmod(fd, 0600) != 0) {
        rc = opc__fail(eb, OPC_ERR_IO, "%s: cannot set the mode of %s: %s", what, path,
                       strerror(errno));
    }
    (void)close(fd);
    return rc;
}

void opc__file_tighten_sidecars(const char *path)
{
    static const char *const suffixes[] = {"-wal", "-shm"};
    char p[PATH_MAX + 8];
    if (strlen(path) > PATH_MAX) {
        return;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(suffixes); i++) {
        (void)snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && (sb.st_mode & 0077) != 0) {
            (void)chmod(p, 0600);
        }
    }
}

static opc_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return OPC_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return OPC_OK;
}

/* write_atomic's and write_new's body: replace, or link without replacing. */
static opc_err write_whole(const char *dir, const char *path, const char *data, size_t len,
                           bool replace, opc__ebuf *eb)
{
    char tmp[4096 + 32];
    uint32_t r = 0;
    (void)opc__rand_uniform(UINT32_MAX, &r);
    int n = snprintf(tmp, sizeof tmp, "%s.tmp%08x", path, (unsigned)r);
    if (n <= 0 || (size_t)n >= sizeof tmp) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "path too long: %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return opc__fail(eb, OPC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    opc_err rc = write_all(fd, data, len);
    if (rc == OPC_OK && fsync(fd) != 0) {
        rc = OPC_ERR_IO;
    }
    int e = errno;
    if (close(fd) != 0 && rc == OPC_OK) {
        rc = OPC_ERR_IO;
        e = errno;
    }
    if (rc == OPC_OK && (replace ? rename(tmp, path) : link(tmp, path)) != 0) {
        e = errno;
        rc = !replace && e == EEXIST ? OPC_ERR_EXISTS : OPC_ERR_IO;
    }
    if (!replace || rc != OPC_OK) {
        (void)unlink(tmp);
    }
    if (rc == OPC_ERR_EXISTS) {
        return opc__fail(eb, rc, "%s already exists", path);
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "cannot write %s: %s", path, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return OPC_OK;
}

opc_err opc__file_write_atomic(const char *dir, const char *path, const char *data, size_t len,
                               opc__ebuf *eb)
{
    return write_whole(dir, path, data, len, true, eb);
}

opc_err opc__file_write_new(const char *dir, const char *path, const char *data, size_t len,
                            opc__ebuf *eb)
{
    return write_whole(dir, path, data, len, false, eb);
}

opc_err opc__file_read(const char *path, size_t max, char **out, size_t *out_len, opc__ebuf *eb)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return opc__fail(eb, OPC_ERR_IO, "cannot read: %s", strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return opc__fail(eb, OPC_ERR_IO, "cannot read: not a regular file");
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "larger than %zu bytes", max);
    }
    size_t cap = (size_t)st.st_size + 1;
    char *buf = opc__malloc(cap);
    if (buf == NULL) {
        close(fd);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            close(fd);
            opc__secret_free(buf, cap);
            return opc__fail(eb, OPC_ERR_IO, "cannot read: %s", strerror(e));
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return OPC_OK;
}
