/*
 * tools/op/document.c - reading and writing files, and the document commands.
 *
 * Files the CLI writes (documents, credentials, the Secret Key) are created
 * with mode 0600 through a temporary file in the same directory and
 * rename(2), so a failed write never leaves a partial file behind; the
 * exclusive form uses link(2), which fails atomically when the name exists.
 */
#include "op.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void op_buf_free(unsigned char *p, size_t len)
{
    if (p != NULL) {
        opc_memzero(p, len);
        free(p);
    }
}

static int read_fd_all(int fd, size_t max, const char *name, unsigned char **out, size_t *out_len)
{
    size_t cap = 64 * 1024;
    size_t len = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        return op_fail(OP_EXIT_GENERIC, "out of memory");
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                op_buf_free(buf, len);
                return op_fail(OP_EXIT_INVALID, "%s is larger than the limit of %zu bytes", name,
                               max);
            }
            size_t ncap = cap * 2;
            unsigned char *nb = malloc(ncap);
            if (nb == NULL) {
                op_buf_free(buf, len);
                return op_fail(OP_EXIT_GENERIC, "out of memory");
            }
            memcpy(nb, buf, len);
            op_buf_free(buf, len);
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            op_buf_free(buf, len);
            return op_fail(OP_EXIT_GENERIC, "cannot read %s: %s", name, strerror(e));
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    if (len > max) {
        op_buf_free(buf, len);
        return op_fail(OP_EXIT_INVALID, "%s is larger than the limit of %zu bytes", name, max);
    }
    *out = buf;
    *out_len = len;
    return OP_EXIT_OK;
}

int op_read_file(const char *path, size_t max, unsigned char **out, size_t *out_len)
{
    if (strcmp(path, "-") == 0) {
        return read_fd_all(STDIN_FILENO, max, "standard input", out, out_len);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return op_fail(errno == ENOENT ? OP_EXIT_NOT_FOUND : OP_EXIT_GENERIC, "cannot open %s: %s",
                       path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        return op_fail(OP_EXIT_USAGE, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        (void)close(fd);
        return op_fail(OP_EXIT_INVALID, "%s is larger than the limit of %zu bytes", path, max);
    }
    int rc = read_fd_all(fd, max, path, out, out_len);
    (void)close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int op_write_file_0600(const char *path, const void *data, size_t len, bool exclusive)
{
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    int w;
    if (slash == NULL) {
        w = snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", path);
    } else {
        w = snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
    }
    if (w < 0 || (size_t)w >= sizeof(tmp)) {
        return op_fail(OP_EXIT_GENERIC, "path too long: %s", path);
    }
    if (exclusive && access(path, F_OK) == 0) {
        return op_fail(OP_EXIT_EXISTS, "%s already exists (use --force to overwrite it)", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        return op_fail(OP_EXIT_GENERIC, "cannot write %s: %s", path, strerror(errno));
    }
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        (void)close(fd);
        (void)unlink(tmp);
        return op_fail(OP_EXIT_GENERIC, "cannot write %s: %s", path, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        (void)unlink(tmp);
        return op_fail(OP_EXIT_GENERIC, "cannot write %s: %s", path, strerror(e));
    }
    int r = exclusive ? link(tmp, path) : rename(tmp, path);
    int e = errno;
    if (exclusive || r != 0) {
        (void)unlink(tmp);
    }
    if (r != 0 && e == EEXIST) {
        return op_fail(OP_EXIT_EXISTS, "%s already exists (use --force to overwrite it)", path);
    }
    if (r != 0) {
        return op_fail(OP_EXIT_GENERIC, "cannot write %s: %s", path, strerror(e));
    }
    return OP_EXIT_OK;
}

/* ---- op document create ---- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

int op_cmd_document_create(struct op_ctx *ctx, const struct op_args *a)
{
    const char *vault = op_arg(a, "vault");
    const char *file = a->npos > 0 ? a->pos[0] : "-";
    if (vault == NULL) {
        return op_usage(ctx, "--vault is required");
    }
    const char *file_name = op_arg(a, "file-name");
    if (file_name == NULL) {
        file_name = strcmp(file, "-") == 0 ? NULL : base_name(file);
    }
    if (file_name == NULL || file_name[0] == '\0') {
        return op_usage(ctx, "--file-name is required when the document comes from stdin");
    }
    const char *title = op_arg(a, "title");
    if (title == NULL) {
        title = file_name;
    }
    if (strcmp(file, "-") == 0) {
        ctx->stdin_taken = true;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = op_read_file(file, OPC_ACCOUNT_MAX_FILE_SIZE, &data, &len);
    if (rc == OP_EXIT_OK) {
        rc = op_open_unlocked(ctx);
    }
    if (rc != OP_EXIT_OK) {
        op_buf_free(data, len);
        return rc;
    }
    opc_secret *out = NULL;
    opc_err err = opc_account_document_create(ctx->acct, vault, title, file_name, data, len, &out);
    op_buf_free(data, len);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    cJSON *item = op_json_parse(opc_secret_data(out), opc_secret_len(out));
    opc_secret_free(out);
    if (item == NULL) {
        return op_fail(OP_EXIT_GENERIC, "the library returned malformed JSON");
    }
    op_print_item(ctx, item, false);
    op_json_free(item);
    return OP_EXIT_OK;
}

/* ---- op document get ---- */

int op_cmd_document_get(struct op_ctx *ctx, const struct op_args *a)
{
    if (a->npos != 1) {
        return op_usage(ctx, "expected one document name or id");
    }
    const char *out_file = op_arg(a, "out-file");
    int rc = op_open_unlocked(ctx);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    cJSON *item = NULL;
    rc = op_item_find(ctx, op_arg(a, "vault"), a->pos[0], &item);
    if (rc != OP_EXIT_OK) {
        return rc;
    }
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(item, "files");
    const cJSON *file = cJSON_GetArrayItem(files, 0);
    const char *want = op_arg(a, "file-name");
    if (want != NULL) {
        const cJSON *f;
        file = NULL;
        cJSON_ArrayForEach(f, files)
        {
            if (strcmp(op_jstr(f, "name"), want) == 0 || strcmp(op_jstr(f, "id"), want) == 0) {
                file = f;
                break;
            }
        }
    }
    if (file == NULL) {
        op_json_free(item);
        return op_fail(OP_EXIT_NOT_FOUND, "%s has no %s file", a->pos[0],
                       want != NULL ? "such" : "attached");
    }
    const char *vault_id = op_jstr(cJSON_GetObjectItemCaseSensitive(item, "vault"), "id");
    opc_secret *content = NULL;
    opc_err err = opc_account_file_read(ctx->acct, vault_id, op_jstr(item, "id"),
                                        op_jstr(file, "id"), &content);
    op_json_free(item);
    if (err != OPC_OK) {
        return op_fail_lib(ctx, err, NULL);
    }
    if (out_file != NULL) {
        rc = op_write_file_0600(out_file, opc_secret_data(content), opc_secret_len(content),
                                !op_has(a, "force"));
    } else {
        /* Straight to the descriptor: no stdio buffer keeps a copy. */
        (void)fflush(stdout);
        if (write_all(STDOUT_FILENO, opc_secret_data(content), opc_secret_len(content)) != 0) {
            rc = op_fail(OP_EXIT_GENERIC, "writing to standard output failed: %s", strerror(errno));
        }
    }
    opc_secret_free(content);
    return rc;
}
