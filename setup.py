from setuptools import find_packages, setup

setup(
    name="goturn_caffe",
    version="0.1.0",
    description="GOTURN (ECCV 2016) reproduced in Caffe, driven from Python",
    package_dir={"": "src"},
    packages=find_packages("src"),
    # the sequence lists the dataset readers ship with (datasets/lists/README.md)
    package_data={"goturn_caffe.datasets": ["lists/*.txt", "lists/*.tsv", "lists/*.md"]},
    python_requires=">=3.10",
    # The pinned versions live in requirements.txt; Caffe is built by `make caffe`.
    # contrib: KCF/CSRT and cv2.TrackerGOTURN; OpenCV 5 dropped its Caffe importer.
    install_requires=["numpy", "opencv-contrib-python-headless>=4.5,<5", "lmdb", "tqdm", "protobuf"],
)
