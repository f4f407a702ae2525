/*  zyre-perf: the benchmark patterns of zmesh-tester, driven through Zyre C's own
    API (libzyre 2.0.1), so that zmesh and Zyre are measured by the same messages
    in the same run. Built and used by tester/scripts/bench; see docs/benchmarks.md.

    zyre-perf IFACE PORT remote N        N nodes answering perf local (stdin EOF stops)
    zyre-perf IFACE PORT local N M       one node measuring whisper and shout rates
    zyre-perf IFACE PORT echo            a node named "echo" whispering every whisper back
    zyre-perf IFACE PORT sink            a node named "sink" counting whispers until "END"
    zyre-perf IFACE PORT rtt COUNT SIZE  round trips to "echo", one at a time
    zyre-perf IFACE PORT send COUNT SIZE one-way whispers to "sink"
    zyre-perf IFACE PORT idle N SECONDS  CPU and memory of N idle nodes in a full mesh

    Every measuring mode prints one JSON line with the same keys as zmesh-tester's.
    The few declarations below stand in for zyre.h and czmq.h, which are not
    packaged here; they match libzyre 2.0.1 and libczmq 4.2.0.
*/
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct _zyre_t zyre_t;
typedef struct _zyre_event_t zyre_event_t;
typedef struct _zmsg_t zmsg_t;
typedef struct _zframe_t zframe_t;
typedef struct _zpoller_t zpoller_t;

zyre_t *zyre_new (const char *name);
void zyre_destroy (zyre_t **self_p);
int zyre_start (zyre_t *self);
void zyre_stop (zyre_t *self);
void zyre_set_port (zyre_t *self, int port);
void zyre_set_interface (zyre_t *self, const char *value);
int zyre_join (zyre_t *self, const char *group);
int zyre_whisper (zyre_t *self, const char *peer, zmsg_t **msg_p);
int zyre_whispers (zyre_t *self, const char *peer, const char *format, ...);
int zyre_shouts (zyre_t *self, const char *group, const char *format, ...);
void *zyre_socket (zyre_t *self);
zyre_event_t *zyre_event_new (zyre_t *node);
void zyre_event_destroy (zyre_event_t **self_p);
const char *zyre_event_type (zyre_event_t *self);
const char *zyre_event_peer_uuid (zyre_event_t *self);
const char *zyre_event_peer_name (zyre_event_t *self);
zmsg_t *zyre_event_msg (zyre_event_t *self);
zmsg_t *zmsg_new (void);
int zmsg_addmem (zmsg_t *self, const void *data, size_t size);
zframe_t *zmsg_first (zmsg_t *self);
unsigned char *zframe_data (zframe_t *self);
size_t zframe_size (zframe_t *self);
zpoller_t *zpoller_new (void *reader, ...);
void *zpoller_wait (zpoller_t *self, int timeout);
int zpoller_add (zpoller_t *self, void *reader);
void zsys_set_max_sockets (size_t max_sockets);
void zsys_handler_set (void *handler_fn);
typedef struct _zlist_t zlist_t;
zlist_t *zyre_peers (zyre_t *self);
size_t zlist_size (zlist_t *self);
void zlist_destroy (zlist_t **self_p);
void zpoller_destroy (zpoller_t **self_p);

/*  One-way throughput: the sink acknowledges every ACK_EVERY payloads and the
    sender keeps at most WINDOW unacknowledged (as zmesh-tester).  */
#define ACK_EVERY 128
#define WINDOW 512

static const char *iface;
static int port;
static volatile int stopping;

static double
now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static zyre_t *
node (const char *name, const char *group)
{
    zyre_t *n = zyre_new (name);
    zyre_set_interface (n, iface);
    zyre_set_port (n, port);
    if (group)
        zyre_join (n, group);
    if (zyre_start (n)) {
        fprintf (stderr, "zyre-perf: cannot start a node\n");
        exit (1);
    }
    return n;
}

/*  The first frame of a WHISPER or SHOUT equals s?  */
static int
first_is (zyre_event_t *e, const char *s)
{
    zmsg_t *m = zyre_event_msg (e);
    zframe_t *f = m ? zmsg_first (m) : NULL;
    return f && zframe_size (f) == strlen (s) && memcmp (zframe_data (f), s, strlen (s)) == 0;
}

static int
is (zyre_event_t *e, const char *type)
{
    return strcmp (zyre_event_type (e), type) == 0;
}

/*  Waits up to ms for the node's next event; NULL on timeout.  */
static zyre_event_t *
next_event (zyre_t *n, zpoller_t *p, int ms)
{
    if (!zpoller_wait (p, ms))
        return NULL;
    return zyre_event_new (n);
}

static void
wait_stdin_eof (void)
{
    char buf [256];
    while (read (0, buf, sizeof buf) > 0)
        ;
    stopping = 1;
}

static void *
remote_node (void *arg)
{
    zyre_t *n = arg;
    zpoller_t *p = zpoller_new (zyre_socket (n), NULL);
    while (!stopping) {
        zyre_event_t *e = next_event (n, p, 100);
        if (!e)
            continue;
        if (is (e, "ENTER"))
            zyre_whispers (n, zyre_event_peer_uuid (e), "R:HELLO");
        else
        if (is (e, "WHISPER") && first_is (e, "S:WHISPER"))
            zyre_whispers (n, zyre_event_peer_uuid (e), "R:WHISPER");
        else
        if (is (e, "SHOUT") && first_is (e, "S:SHOUT"))
            zyre_shouts (n, "GLOBAL", "R:SHOUT");
        zyre_event_destroy (&e);
    }
    zpoller_destroy (&p);
    zyre_destroy (&n);
    return NULL;
}

static int
remote (int count)
{
    pthread_t *t = calloc (count, sizeof *t);
    /*  Nodes are made on this thread: czmq's global set-up is not safe to race.  */
    for (int i = 0; i < count; i++)
        pthread_create (&t [i], NULL, remote_node, node ("remote", "GLOBAL"));
    fprintf (stderr, "zyre-perf: %d remote nodes up; end of input stops them\n", count);
    wait_stdin_eof ();
    for (int i = 0; i < count; i++)
        pthread_join (t [i], NULL);
    free (t);
    return 0;
}

/*  Sends `sends` messages with send(i), draining replies between sends, then
    waits until `expect` replies have come; returns the seconds taken.  */
static double
phase (zyre_t *n, zpoller_t *p, int sends, int expect, const char *reply,
       void (*send) (zyre_t *, int, void *), void *arg)
{
    double t = now ();
    int got = 0;
    for (int i = 0; i < sends; i++) {
        send (n, i, arg);
        zyre_event_t *e;
        while ((e = next_event (n, p, 0))) {
            got += first_is (e, reply);
            zyre_event_destroy (&e);
        }
    }
    while (got < expect) {
        zyre_event_t *e = next_event (n, p, 120000);
        if (!e) {
            fprintf (stderr, "zyre-perf: only %d of %d replies\n", got, expect);
            exit (1);
        }
        got += first_is (e, reply);
        zyre_event_destroy (&e);
    }
    return now () - t;
}

typedef struct {
    char **peers;
    int count;
} remotes_t;

static void
send_whisper (zyre_t *n, int i, void *arg)
{
    remotes_t *r = arg;
    zyre_whispers (n, r->peers [i % r->count], "S:WHISPER");
}

static void
send_shout (zyre_t *n, int i, void *arg)
{
    (void) i; (void) arg;
    zyre_shouts (n, "GLOBAL", "S:SHOUT");
}

static int
local (int count, int messages)
{
    double t0 = now ();
    zyre_t *n = node ("local", "GLOBAL");
    zpoller_t *p = zpoller_new (zyre_socket (n), NULL);
    remotes_t r = { calloc (count, sizeof (char *)), 0 };
    int hellos = 0;
    while (r.count < count || hellos < count) {
        zyre_event_t *e = next_event (n, p, 120000);
        if (!e) {
            fprintf (stderr, "zyre-perf: %d of %d remotes\n", r.count, count);
            return 1;
        }
        if (is (e, "ENTER") && r.count < count)
            r.peers [r.count++] = strdup (zyre_event_peer_uuid (e));
        else
        if (is (e, "WHISPER") && first_is (e, "R:HELLO"))
            hellos++;
        zyre_event_destroy (&e);
    }
    double coordinate = now () - t0;
    double wt = phase (n, p, messages, messages, "R:WHISPER", send_whisper, &r);
    int shouts = messages / count > 0 ? messages / count : 1;
    int expect = shouts * count;
    double st = phase (n, p, shouts, expect, "R:SHOUT", send_shout, NULL);
    printf ("{\"mode\":\"perf-local\",\"impl\":\"zyre\",\"remotes\":%d,\"messages\":%d,"
            "\"coordinate_s\":%.6f,\"whisper\":{\"messages\":%d,\"seconds\":%.6f,\"per_second\":%.1f},"
            "\"shout\":{\"shouts\":%d,\"replies\":%d,\"seconds\":%.6f,\"per_second\":%.1f}}\n",
            count, messages, coordinate, messages, wt, messages / wt, shouts, expect, st,
            expect / st);
    zpoller_destroy (&p);
    zyre_destroy (&n);
    return 0;
}

/*  echo and sink: one named node serving until stdin ends.  */
static void *
serve (void *arg)
{
    int sink = arg != NULL;
    zyre_t *n = node (sink ? "sink" : "echo", NULL);
    zpoller_t *p = zpoller_new (zyre_socket (n), NULL);
    long received = 0, bytes = 0;
    while (!stopping) {
        zyre_event_t *e = next_event (n, p, 100);
        if (!e)
            continue;
        if (is (e, "WHISPER")) {
            zmsg_t *m = zyre_event_msg (e);
            if (!sink) {
                zmsg_t *copy = zmsg_new ();
                zframe_t *f = zmsg_first (m);
                zmsg_addmem (copy, zframe_data (f), zframe_size (f));
                zyre_whisper (n, zyre_event_peer_uuid (e), &copy);
            }
            else
            if (first_is (e, "END")) {
                zyre_whispers (n, zyre_event_peer_uuid (e), "COUNT %ld %ld", received, bytes);
                received = bytes = 0;
            }
            else {
                received++;
                bytes += zframe_size (zmsg_first (m));
                if (received % ACK_EVERY == 0)
                    zyre_whispers (n, zyre_event_peer_uuid (e), "ACK %ld", received);
            }
        }
        zyre_event_destroy (&e);
    }
    zpoller_destroy (&p);
    zyre_destroy (&n);
    return NULL;
}

/*  Waits for the node named `name` to enter; returns its uuid.  */
static char *
find (zyre_t *n, zpoller_t *p, const char *name)
{
    while (1) {
        zyre_event_t *e = next_event (n, p, 60000);
        if (!e) {
            fprintf (stderr, "zyre-perf: no %s peer\n", name);
            exit (1);
        }
        if (is (e, "ENTER") && strcmp (zyre_event_peer_name (e), name) == 0) {
            char *id = strdup (zyre_event_peer_uuid (e));
            zyre_event_destroy (&e);
            return id;
        }
        zyre_event_destroy (&e);
    }
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static int
rtt (int count, int size)
{
    zyre_t *n = node ("latency", NULL);
    zpoller_t *p = zpoller_new (zyre_socket (n), NULL);
    char *peer = find (n, p, "echo");
    if (size < 8)
        size = 8;
    unsigned char *buf = malloc (size);
    memset (buf, 0xab, size);
    int warm = count / 10;
    double *rtts = calloc (count, sizeof (double));
    for (int i = 0; i < count + warm; i++) {
        uint64_t seq = i;
        for (int b = 0; b < 8; b++)
            buf [b] = (unsigned char) (seq >> (56 - 8 * b));
        double t = now ();
        zmsg_t *m = zmsg_new ();
        zmsg_addmem (m, buf, size);
        zyre_whisper (n, peer, &m);
        while (1) {
            zyre_event_t *e = next_event (n, p, 60000);
            if (!e) {
                fprintf (stderr, "zyre-perf: no echo\n");
                return 1;
            }
            int match = 0;
            if (is (e, "WHISPER")) {
                zframe_t *f = zmsg_first (zyre_event_msg (e));
                match = f && zframe_size (f) == (size_t) size && memcmp (zframe_data (f), buf, size) == 0;
            }
            zyre_event_destroy (&e);
            if (match)
                break;
        }
        if (i >= warm)
            rtts [i - warm] = (now () - t) * 1e6;
    }
    qsort (rtts, count, sizeof (double), cmp_double);
#define AT(q) rtts [(int) ((count - 1) * (q) + 0.5)]
    printf ("{\"mode\":\"rtt\",\"impl\":\"zyre\",\"bytes\":%d,\"count\":%d,"
            "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f}\n",
            size, count, AT (0.5), AT (0.9), AT (0.99));
    zpoller_destroy (&p);
    zyre_destroy (&n);
    return 0;
}

static int
send_oneway (int count, int size)
{
    zyre_t *n = node ("sender", NULL);
    zpoller_t *p = zpoller_new (zyre_socket (n), NULL);
    char *peer = find (n, p, "sink");
    unsigned char *buf = malloc (size > 0 ? size : 1);
    memset (buf, 0xcd, size);
    double t = now ();
    long acked = 0, received = -1, bytes = 0;
    for (int i = 0; i <= count; i++) {
        /*  Wait while the window is full or, at the end, for the COUNT.  */
        while (i < count ? i - acked >= WINDOW : received < 0) {
            zyre_event_t *e = next_event (n, p, 120000);
            if (!e) {
                fprintf (stderr, "zyre-perf: the sink stopped answering\n");
                return 1;
            }
            if (is (e, "WHISPER")) {
                zframe_t *f = zmsg_first (zyre_event_msg (e));
                char text [64] = "";
                size_t len = zframe_size (f) < 63 ? zframe_size (f) : 63;
                memcpy (text, zframe_data (f), len);
                long a;
                if (sscanf (text, "ACK %ld", &a) == 1)
                    acked = a;
                else
                    sscanf (text, "COUNT %ld %ld", &received, &bytes);
            }
            zyre_event_destroy (&e);
        }
        if (i < count) {
            zmsg_t *m = zmsg_new ();
            zmsg_addmem (m, buf, size);
            zyre_whisper (n, peer, &m);
            if (i == count - 1)
                zyre_whispers (n, peer, "END");
        }
    }
    double s = now () - t;
    printf ("{\"mode\":\"throughput\",\"impl\":\"zyre\",\"bytes\":%d,\"count\":%d,\"received\":%ld,"
            "\"seconds\":%.6f,\"msgs_per_s\":%.1f,\"mib_per_s\":%.2f}\n",
            size, count, received, s, received / s, bytes / s / 1048576.0);
    zpoller_destroy (&p);
    zyre_destroy (&n);
    return received == count ? 0 : 1;
}

static double
cpu_seconds (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
         + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long
rss_bytes (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line [256];
    long kb = 0;
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = atol (line + 6);
    if (f)
        fclose (f);
    return kb * 1024;
}

/*  Reads and drops every event of the idle nodes, so that none piles up.  */
typedef struct {
    zyre_t **nodes;
    int count;
} idle_t;

static void *
drain (void *arg)
{
    idle_t *w = arg;
    zpoller_t *p = zpoller_new (zyre_socket (w->nodes [0]), NULL);
    for (int i = 1; i < w->count; i++)
        zpoller_add (p, zyre_socket (w->nodes [i]));
    while (!stopping) {
        void *which = zpoller_wait (p, 100);
        for (int i = 0; which && i < w->count; i++)
            if (zyre_socket (w->nodes [i]) == which) {
                zyre_event_t *e = zyre_event_new (w->nodes [i]);
                zyre_event_destroy (&e);
            }
    }
    zpoller_destroy (&p);
    return NULL;
}

static int
idle (int count, int seconds)
{
    long before = rss_bytes ();
    double t0 = now ();
    idle_t w = { calloc (count, sizeof (zyre_t *)), count };
    for (int i = 0; i < count; i++)
        w.nodes [i] = node ("idle", NULL);
    pthread_t t;
    pthread_create (&t, NULL, drain, &w);
    for (int i = 0; i < count; i++) {
        while (1) {
            zlist_t *peers = zyre_peers (w.nodes [i]);
            size_t n = zlist_size (peers);
            zlist_destroy (&peers);
            if (n + 1 >= (size_t) count)
                break;
            if (now () - t0 > 120) {
                fprintf (stderr, "zyre-perf: no full mesh of %d\n", count);
                return 1;
            }
            usleep (10000);
        }
    }
    sleep (2);
    double cpu0 = cpu_seconds (), w0 = now ();
    sleep (seconds);
    double cpu = cpu_seconds () - cpu0, wall = now () - w0;
    long rss = rss_bytes ();
    printf ("{\"mode\":\"bench-idle\",\"impl\":\"zyre\",\"nodes\":%d,\"seconds\":%.3f,"
            "\"cpu_percent\":%.3f,\"rss_bytes\":%ld,\"rss_before_bytes\":%ld}\n",
            count, wall, cpu / wall * 100, rss, before);
    stopping = 1;
    pthread_join (t, NULL);
    for (int i = 0; i < count; i++)
        zyre_destroy (&w.nodes [i]);
    return 0;
}

int
main (int argc, char *argv [])
{
    if (argc < 4) {
        fprintf (stderr, "usage: zyre-perf IFACE PORT remote N | local N M | echo | sink"
                         " | rtt COUNT SIZE | send COUNT SIZE | idle N SECONDS\n");
        return 2;
    }
    iface = argv [1];
    port = atoi (argv [2]);
    const char *mode = argv [3];
    int a = argc > 4 ? atoi (argv [4]) : 0;
    int b = argc > 5 ? atoi (argv [5]) : 0;
    setvbuf (stdout, NULL, _IOLBF, 0);
    /*  libzmq's default of 1,023 sockets per process runs out near 30 nodes;
        0 asks czmq for the operating system's limit instead.  */
    zsys_set_max_sockets (0);
    /*  czmq's own SIGINT/SIGTERM handler only sets a flag; a benchmark that is told
        to stop must stop.  */
    zsys_handler_set (NULL);
    if (strcmp (mode, "remote") == 0 && a > 0)
        return remote (a);
    if (strcmp (mode, "local") == 0 && a > 0 && b > 0)
        return local (a, b);
    if (strcmp (mode, "echo") == 0 || strcmp (mode, "sink") == 0) {
        pthread_t t;
        pthread_create (&t, NULL, serve, strcmp (mode, "sink") == 0 ? (void *) 1 : NULL);
        wait_stdin_eof ();
        pthread_join (t, NULL);
        return 0;
    }
    if (strcmp (mode, "rtt") == 0 && a > 0)
        return rtt (a, b);
    if (strcmp (mode, "idle") == 0 && a > 0)
        return idle (a, b > 0 ? b : 10);
    if (strcmp (mode, "send") == 0 && a > 0)
        return send_oneway (a, b);
    fprintf (stderr, "zyre-perf: bad arguments\n");
    return 2;
}
