"""What the tests, the scripts and the benchmark share; nothing in ``infra/`` imports it.

``harness``   drives our dynamic providers through the Pulumi SDK's real provider host (gRPC),
              with a small engine-like ``Stack`` carrying state between operations;
``workload``  the reference workload RW-1 as a resource graph, and an engine-like scheduler;
``mockrun``   runs the real program under Pulumi's mock runtime (``python -m devkit.mockrun``,
              ``bc-sales mock-run``);
``engine``    the pinned Pulumi CLI, a copy of the project, an offline engine environment.

It works from a source checkout (``pip install -e .``): the harness, the workload and the engine
helpers read the project's files (infra/, roles/, solution/, scripts/) beside this folder.
"""
