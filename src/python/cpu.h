/* The CPU sampler (memscope run --cpu): a recorder thread signals every
 * Python thread of the main interpreter at a fixed rate; each thread's
 * signal handler copies its own frame chain and the CPU and wall time it
 * spent since its last sample into a ring of its own; whoever next holds
 * the GIL inside the recorder drains the rings into CPU records. */
#ifndef MEMSCOPE_CPU_H
#define MEMSCOPE_CPU_H

#include "version.h"

#include <stdatomic.h>

#include "stacks.h"

typedef struct msc_cpu_slot msc_cpu_slot_t;

/* This thread's slot while it is sampled; NULL otherwise. */
extern __thread msc_cpu_slot_t *msc__cpu_slot __attribute__((tls_model("initial-exec")));
/* Set by a signal handler when a ring has samples to drain. */
extern _Atomic int msc__cpu_pending;
/* Sampling is on (between msc__cpu_start and msc__cpu_stop). */
extern _Atomic int msc__cpu_on;

/* Starts sampling at rate_hz: picks a free real-time signal, installs the
 * handler and starts the sampling thread. 0, or -1 with an exception set
 * (no free signal, no thread). GIL held, the capture open. */
int msc__cpu_start(unsigned int rate_hz);

/* Stops the sampling thread and drains every ring. GIL held, before the
 * capture's tries are released. */
void msc__cpu_stop(void);

/* This thread joins the sampling as capture thread index (its own thread
 * state ts, of the main interpreter). Hook-safe: libc memory only. */
void msc__cpu_thread_start(uint32_t index, PyThreadState *ts);

/* A RAW block is being freed: when it is this thread's own thread state,
 * the thread stops being sampled before its frames go away. */
void msc__cpu_thread_state_freed(void *block);

/* Writes every sample waiting in the rings as CPU records on the main
 * stream. GIL held (main interpreter), msc__busy set. */
void msc__cpu_drain(void);

/* In a fork child: no sampling thread exists there. */
void msc__cpu_atfork_child(void);

static inline void msc__cpu_maybe_drain(void)
{
    if (__builtin_expect(atomic_load_explicit(&msc__cpu_pending, memory_order_relaxed), 0))
        msc__cpu_drain();
}

#endif
