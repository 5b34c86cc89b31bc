"""The geometry core shared by training and tracking (pure numpy/OpenCV, no Caffe).

``boxes`` (the box type and its text form), ``cropping`` (the search region and
target crop around a box, and the label coding), ``motion`` (the Laplace
motion model of training), ``examples`` (training pairs made from two frames),
``preprocess`` (crop -> network input blob).
"""
