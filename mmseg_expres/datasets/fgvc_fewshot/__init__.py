"""FGVC few-shot classification: the five data sets, NOAH's K-shot lists, drawing them."""
