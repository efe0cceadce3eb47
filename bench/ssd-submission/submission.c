// io_uring against blocking threads for the SSD tier's I/O shape: 32 MiB + 8 KiB O_DIRECT writes and reads of
// consecutive slots, QD in flight, from huge-page buffers (as NvmeTier's staging buffers). Same file, same buffers,
// the two paths alternating. Prints GB/s and CPU seconds per GB (user + system, whole process).
// Build and run: bench/ssd-submission/run.sh DIR   (needs liburing-dev)
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define QD 8
static const long Stride = (32L << 20) + 8192;
static int fd, n, writing;
static char *bufs[QD];
static atomic_int next;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static double cpu(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6; }

static void *worker(void *arg)
{
    char *b = bufs[(long)arg];
    int i;
    while ((i = atomic_fetch_add(&next, 1)) < n) {
        long r = writing ? pwrite(fd, b, Stride, i * Stride) : pread(fd, b, Stride, i * Stride);
        if (r != Stride) { perror("io"); exit(1); }
    }
    return NULL;
}

static void threads(void)
{
    pthread_t t[QD];
    atomic_store(&next, 0);
    for (long i = 0; i < QD; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < QD; i++) pthread_join(t[i], NULL);
}

static void uring(struct io_uring *ring)
{
    int submitted = 0, done = 0;
    while (done < n) {
        while (submitted < n && submitted - done < QD) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
            char *b = bufs[submitted % QD];
            if (writing) io_uring_prep_write(sqe, fd, b, Stride, submitted * Stride);
            else io_uring_prep_read(sqe, fd, b, Stride, submitted * Stride);
            submitted++;
        }
        io_uring_submit(ring);
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(ring, &cqe) != 0 || cqe->res != Stride) { fprintf(stderr, "uring io failed\n"); exit(1); }
        io_uring_cqe_seen(ring, cqe);
        done++;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: submission FILE [chunks] [reps]\n"); return 2; }
    n = argc > 2 ? atoi(argv[2]) : 48;
    int reps = argc > 3 ? atoi(argv[3]) : 4;
    fd = open(argv[1], O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd < 0 || fallocate(fd, 0, 0, Stride * n) != 0) { perror("open"); return 1; }
    for (int i = 0; i < QD; i++) {
        bufs[i] = aligned_alloc(2 << 20, (Stride + (2 << 20) - 1) & ~((2L << 20) - 1));
        madvise(bufs[i], Stride & ~((2L << 20) - 1), MADV_HUGEPAGE);
        memset(bufs[i], i + 1, Stride);
    }
    struct io_uring ring;
    if (io_uring_queue_init(QD, &ring, 0) != 0) { fprintf(stderr, "io_uring_queue_init failed\n"); return 1; }
    for (int r = 0; r <= reps; r++) {
        for (int w = 1; w >= 0; w--) {
            writing = w;
            for (int path = 0; path < 2; path++) {
                int p = (r % 2) ? 1 - path : path; // alternate which goes first
                double c0 = cpu(), t0 = now();
                if (p == 0) threads(); else uring(&ring);
                double s = now() - t0, c = cpu() - c0, gb = (double)Stride * n / 1e9;
                if (r > 0) printf("%s %-7s %.2f GB/s  %.3f cpu-s/GB\n", w ? "write" : "read ", p ? "uring" : "threads", gb / s, c / gb);
            }
        }
    }
    io_uring_queue_exit(&ring);
    close(fd);
    unlink(argv[1]);
    return 0;
}
