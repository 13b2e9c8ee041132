/* fuzz/replay.c -- run a libFuzzer target over saved inputs, without clang.
 *
 * `make check` links this main() with a fuzz target and the code under test
 * (built with gcc and ASan/UBSan) and passes it the corpus directories, so
 * every input that once found a bug keeps being checked on machines
 * without libFuzzer. Arguments are files or directories (not recursive).
 * Each input is read into a buffer of exactly its size, so an over-read is
 * caught by ASan as it would be under libFuzzer. Exits non-zero when an
 * argument cannot be read; a failing input aborts inside the target. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read the whole file into a new buffer of exactly its size (1 byte for an
 * empty file, so the pointer is never NULL). Returns NULL on error. */
static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(n ? (size_t)n : 1))) {
        *size = (size_t)n;
        if (fread(buf, 1, *size, f) != *size) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static int run_file(const char *path)
{
    size_t size;
    uint8_t *buf = read_all(path, &size);

    if (!buf) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 1;
}

/* Returns the number of inputs run, or -1 on an unreadable entry. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    char path[4096];
    int count = 0;

    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    while (count >= 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            count = run_file(path) < 0 ? -1 : count + 1;
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    struct stat st;
    int total = 0;

    for (int i = 1; i < argc; i++) {
        int n;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: cannot stat %s\n", argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    printf("replay: %d inputs ok\n", total);
    return 0;
}
