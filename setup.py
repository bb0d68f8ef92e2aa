"""Packaging for evgrid, the CIM / IEC 61850 EV-charging integration adapter."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent

setup(
    name="evgrid",
    version="0.1.0",
    description=(
        "IEC 61850 / CIM integration adapter for the IntelliGrid use case "
        "'Customer Services - Consumer Portal - Electric Vehicle Function'"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="GPL-3.0-or-later",
    python_requires=">=3.11",
    # Namespace discovery: every directory under evgrid/ is a package, so the data-only
    # ones (evgrid/schemas/wsdl, evgrid/schemas/scl) are packages too, and a new
    # subpackage is picked up without an edit here.
    packages=find_namespace_packages(
        include=["evgrid", "evgrid.*"],
        exclude=["*.__pycache__", "*.__pycache__.*", "*.tests", "*.tests.*"],
    ),
    # The packages' root is the project root, said explicitly: an editable install is
    # then a .pth file naming this directory (as pytest.ini's `pythonpath = .` does)
    # rather than setuptools' meta path finder, which warns on every install.
    package_dir={"": "."},
    # The data files, by type, in whichever package they lie (files are being moved):
    # the schemas, WSDLs, SCL files, xsdata's config and alembic's template. Not
    # include_package_data: with package_dir "." it would match no file of MANIFEST.in
    # (which is for the sdist).
    package_data={
        "": ["*.xsd", "*.wsdl", "*.icd", "*.cid", ".xsdata.xml", "*.mako"],
    },
    install_requires=[
        "lxml>=5.2,<7",
        "xmlschema>=3.3,<5",
        "xsdata[lxml]>=26.10,<27",
        "zeep>=4.2,<5",
        "pyiec61850-ng>=1.6.1,<1.7",
        "sqlalchemy>=2.0,<2.2",
        "alembic>=1.13,<2",
        "apscheduler>=3.11,<4",
        "rich>=13,<16",
        "httpx>=0.27,<1",
        # the scheduler's vectorised slot assignment
        "numpy>=1.26,<3",
        "waitress>=3.0.2,<3.1",  # the oversize handling subclasses its connection and parser
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            # the generator toolchain is pinned: the committed bindings are checked
            # byte for byte against a fresh generation
            "xsdata[cli,lxml]==26.10",
            "ruff==0.17.6",
            # the scheduler's reference optimum (HiGHS), for tests and benchmarks only
            "scipy>=1.11,<2",
            "hypothesis>=6.100,<7",
        ],
        "postgres": ["psycopg[binary]>=3.1,<4"],
        "amqp": ["pika>=1.3,<2"],
    },
    entry_points={"console_scripts": ["evgrid = evgrid.cli:main"]},
    # the licence is the SPDX expression in `license` above: setuptools >= 77 warns
    # about a "License ::" classifier
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering",
    ],
)
