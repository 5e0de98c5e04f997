/* cnn_font.h: a 5x8 bitmap font for ASCII labels in images (`preview`). */
#ifndef CNN_FONT_H_INCLUDED
#define CNN_FONT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define CNN_FONT_W 6 /* advance: 5 columns and a space */
#define CNN_FONT_H 8

/* Draws text at (x, y) (its top left) into an RGB image of w x h pixels in
 * colour rgb[3], clipped to the image; characters outside printable ASCII
 * are drawn as '?'. */
void cnn_font_draw(uint8_t *img, int w, int h, int x, int y, const char *text, const uint8_t rgb[3]);

#endif
