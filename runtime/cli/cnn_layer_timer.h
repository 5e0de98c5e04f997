/* cnn_layer_timer.h: each layer's wall time in the generated drivers, for
 * `NAME bench`. The drivers call cnn_layer_hook (cnn_model.h) around every
 * layer from the thread that called forward/backward, outside their parallel
 * regions; the hook returns at once unless the timer is on. */
#ifndef CNN_LAYER_TIMER_H
#define CNN_LAYER_TIMER_H

/* Zeroes every layer's sums and starts timing. */
void cnn_layer_timer_start(void);
/* Stops timing; the sums stay readable. */
void cnn_layer_timer_stop(void);
/* Seconds summed since the last start in layer i's pass (0 forward, 1
 * backward); 0 for a layer out of range. */
double cnn_layer_timer_get(int layer, int pass);

#endif
