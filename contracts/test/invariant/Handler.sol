// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {CheatBase} from "../utils/TestBase.sol";
import {FARToken} from "../../src/FARToken.sol";
import {InferencePayment} from "../../src/InferencePayment.sol";

/// @notice Drives random but mostly valid sequences against FARToken and InferencePayment on
/// behalf of a few actors, and keeps ghost accounting the invariants compare with the contracts.
/// The handler is the oracle (ORACLE_ROLE) and an extra revenue source (REVENUE_ROLE).
/// It never asserts itself: a revert inside a handler call is swallowed by the invariant engine
/// (fail_on_revert = false), so every discrepancy is recorded in a ghost and checked afterwards.
contract Handler is CheatBase {
    FARToken public immutable far;
    InferencePayment public immutable pay;
    address public immutable admin;
    address public immutable treasury;

    address[] public actors;
    address[] public nodes;

    // open tasks, with O(1) removal
    bytes32[] public openTasks;
    mapping(bytes32 => uint256) internal openIndex; // index + 1
    mapping(bytes32 => uint256) public escrowOf;
    mapping(bytes32 => address) public userOf;
    bytes32[] public closedTasks;
    uint256 internal nonce;

    // ghosts: money flows into and out of InferencePayment
    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostOpenEscrow;
    uint256 public ghostSettledCost;
    uint256 public ghostNodePaid;
    uint256 public ghostStakerPaid;
    uint256 public ghostTreasuryPaid;
    uint256 public ghostRefunded;
    // ghosts: FARToken
    uint256 public ghostDirectRevenue;
    uint256 public ghostShareClaimed;
    uint256 public ghostRewardsMinted;
    // ghosts: discrepancies observed inside calls (must stay zero)
    uint256 public ghostSplitMismatches;
    uint256 public ghostRefundMismatches;
    uint256 public ghostSkipMismatches;
    uint256 public ghostCapOverflows;

    mapping(bytes32 => uint256) public calls;

    constructor(
        FARToken far_,
        InferencePayment pay_,
        address admin_,
        address treasury_,
        address[] memory actors_,
        address[] memory nodes_
    ) {
        far = far_;
        pay = pay_;
        admin = admin_;
        treasury = treasury_;
        actors = actors_;
        nodes = nodes_;
    }

    // ------------------------------------------------------------------ helpers

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function nodeCount() external view returns (uint256) {
        return nodes.length;
    }

    function openTaskCount() external view returns (uint256) {
        return openTasks.length;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _node(uint256 seed) internal view returns (address) {
        return nodes[seed % nodes.length];
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _addOpen(bytes32 id, address user, uint256 escrow) internal {
        openTasks.push(id);
        openIndex[id] = openTasks.length;
        escrowOf[id] = escrow;
        userOf[id] = user;
        ghostOpenEscrow += escrow;
    }

    function _removeOpen(bytes32 id) internal {
        uint256 i = openIndex[id] - 1;
        bytes32 last = openTasks[openTasks.length - 1];
        openTasks[i] = last;
        openIndex[last] = i + 1;
        openTasks.pop();
        delete openIndex[id];
        ghostOpenEscrow -= escrowOf[id];
        closedTasks.push(id);
    }

    struct Snap {
        uint256 nodes;
        uint256 pool;
        uint256 treasury;
        uint256 userBalances;
    }

    function _snap() internal view returns (Snap memory s) {
        for (uint256 i = 0; i < nodes.length; i++) {
            s.nodes += far.balanceOf(nodes[i]);
        }
        s.pool = far.balanceOf(address(far));
        s.treasury = far.balanceOf(treasury);
        s.userBalances = pay.totalUserBalances();
    }

    /// Books a settlement from balance deltas and checks it against the expected totals.
    function _book(Snap memory a, uint256 costs, uint256 refunds) internal {
        Snap memory b = _snap();
        uint256 nodePaid = b.nodes - a.nodes;
        uint256 stakerPaid = b.pool - a.pool;
        uint256 treasuryPaid = b.treasury - a.treasury;
        if (nodePaid + stakerPaid + treasuryPaid != costs) ghostSplitMismatches++;
        if (b.userBalances - a.userBalances != refunds) ghostRefundMismatches++;
        ghostNodePaid += nodePaid;
        ghostStakerPaid += stakerPaid;
        ghostTreasuryPaid += treasuryPaid;
        ghostSettledCost += costs;
        ghostRefunded += refunds;
    }

    // ------------------------------------------------------------------ InferencePayment

    function deposit(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 bal = far.balanceOf(a);
        if (bal == 0) return;
        amount = bound(amount, 1, bal);
        vm.prank(a);
        pay.deposit(amount);
        ghostDeposited += amount;
        calls["deposit"]++;
    }

    function withdraw(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 bal = pay.userBalances(a);
        if (bal == 0) return;
        amount = bound(amount, 1, bal);
        vm.prank(a);
        pay.withdraw(amount);
        ghostWithdrawn += amount;
        calls["withdraw"]++;
    }

    /// Opens 1-4 tasks at once (settling paths outnumber this one), splitting `amount`.
    function createTask(uint256 actorSeed, uint256 amount, uint256 count) external {
        address a = _actor(actorSeed);
        uint256 bal = pay.userBalances(a);
        if (bal == 0) return;
        amount = bound(amount, 1, bal);
        count = bound(count, 1, _min(4, amount));
        for (uint256 i = 0; i < count; i++) {
            uint256 escrow = i + 1 == count ? amount - (amount / count) * (count - 1) : amount / count;
            vm.prank(a);
            bytes32 id = pay.createTask(keccak256(abi.encode("inv-task", ++nonce)), escrow);
            _addOpen(id, a, escrow);
        }
        calls["createTask"]++;
    }

    function completeTask(uint256 taskSeed, uint256 nodeSeed, uint256 cost, uint256 score) external {
        if (openTasks.length == 0) return;
        bytes32 id = openTasks[taskSeed % openTasks.length];
        uint256 escrow = escrowOf[id];
        cost = bound(cost, 0, escrow);
        score = bound(score, 0, 100);
        Snap memory s0 = _snap();
        pay.completeTask(id, _node(nodeSeed), cost, score);
        _removeOpen(id);
        _book(s0, cost, escrow - cost);
        calls["completeTask"]++;
    }

    /// The tasks of one batch: up to 6 open ones from `seed`, and with `replayClosed` one task
    /// already closed (zero when there is none), to exercise the skip path.
    function _batchTasks(uint256 seed, uint256 count, bool replayClosed)
        internal
        view
        returns (bytes32[] memory open, bytes32 replayed)
    {
        uint256 openCount = openTasks.length;
        open = new bytes32[](openCount == 0 ? 0 : bound(count, 1, _min(openCount, 6)));
        for (uint256 i = 0; i < open.length; i++) {
            open[i] = openTasks[(seed % openCount + i) % openCount];
        }
        if (replayClosed && closedTasks.length > 0) replayed = closedTasks[seed % closedTasks.length];
    }

    /// Settles up to 6 open tasks in one batch, sometimes replaying an already closed task,
    /// which must be skipped and move no money.
    function completeTasks(uint256 seed, uint256 count, bool replayClosed) external {
        (bytes32[] memory open, bytes32 replayed) = _batchTasks(seed, count, replayClosed);
        uint256 n = open.length;
        if (n == 0 && replayed == 0) return;

        InferencePayment.Settlement[] memory batch = new InferencePayment.Settlement[](replayed == 0 ? n : n + 1);
        uint256 costs;
        uint256 refunds;
        for (uint256 i = 0; i < n; i++) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 escrow = escrowOf[open[i]];
            uint256 cost = bound(r, 0, escrow);
            batch[i] = InferencePayment.Settlement(open[i], _node(r >> 8), cost, bound(r >> 16, 0, 100));
            costs += cost;
            refunds += escrow - cost;
        }
        if (replayed != 0) batch[n] = InferencePayment.Settlement(replayed, _node(seed), escrowOf[replayed], 100);

        Snap memory s0 = _snap();
        pay.completeTasks(batch);
        for (uint256 i = 0; i < n; i++) {
            _removeOpen(open[i]);
        }
        _book(s0, costs, refunds);
        if (replayed != 0) {
            (,,,, InferencePayment.TaskStatus st) = pay.tasks(replayed);
            if (st == InferencePayment.TaskStatus.Created) ghostSkipMismatches++;
        }
        calls["completeTasks"]++;
    }

    function failTask(uint256 taskSeed, uint256 nodeSeed) external {
        if (openTasks.length == 0) return;
        bytes32 id = openTasks[taskSeed % openTasks.length];
        uint256 before = pay.userBalances(userOf[id]);
        pay.failTask(id, _node(nodeSeed));
        if (pay.userBalances(userOf[id]) - before != escrowOf[id]) ghostRefundMismatches++;
        ghostRefunded += escrowOf[id];
        _removeOpen(id);
        calls["failTask"]++;
    }

    /// Fails up to 6 open tasks in one batch, sometimes replaying a closed task, which must be
    /// skipped: it keeps its status and refunds nothing.
    function failTasks(uint256 seed, uint256 count, bool replayClosed) external {
        (bytes32[] memory open, bytes32 replayed) = _batchTasks(seed, count, replayClosed);
        uint256 n = open.length;
        if (n == 0 && replayed == 0) return;

        InferencePayment.Failure[] memory batch = new InferencePayment.Failure[](replayed == 0 ? n : n + 1);
        uint256 refunds;
        for (uint256 i = 0; i < n; i++) {
            batch[i] = InferencePayment.Failure(open[i], _node(uint256(keccak256(abi.encode(seed, i)))));
            refunds += escrowOf[open[i]];
        }
        InferencePayment.TaskStatus replayedBefore;
        if (replayed != 0) {
            batch[n] = InferencePayment.Failure(replayed, _node(seed));
            (,,,, replayedBefore) = pay.tasks(replayed);
        }

        uint256 before = pay.totalUserBalances();
        pay.failTasks(batch);
        if (pay.totalUserBalances() - before != refunds) ghostRefundMismatches++;
        ghostRefunded += refunds;
        for (uint256 i = 0; i < n; i++) {
            _removeOpen(open[i]);
        }
        if (replayed != 0) {
            (,,,, InferencePayment.TaskStatus replayedAfter) = pay.tasks(replayed);
            if (replayedAfter != replayedBefore) ghostSkipMismatches++;
        }
        calls["failTasks"]++;
    }

    function cancelTask(uint256 taskSeed, uint256 extraWait) external {
        if (openTasks.length == 0) return;
        bytes32 id = openTasks[taskSeed % openTasks.length];
        (,,, uint256 createdAt,) = pay.tasks(id);
        uint256 expiresAt = createdAt + pay.taskTimeout();
        if (block.timestamp < expiresAt) vm.warp(expiresAt + bound(extraWait, 0, 1 days));
        address user = userOf[id];
        uint256 before = pay.userBalances(user);
        vm.prank(user);
        pay.cancelTask(id);
        if (pay.userBalances(user) - before != escrowOf[id]) ghostRefundMismatches++;
        ghostRefunded += escrowOf[id];
        _removeOpen(id);
        calls["cancelTask"]++;
    }

    // ------------------------------------------------------------------ FARToken

    function stake(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 bal = far.balanceOf(a);
        if (bal == 0) return;
        amount = bound(amount, 1, bal);
        vm.prank(a);
        far.stake(amount);
        calls["stake"]++;
    }

    function unstake(uint256 actorSeed, uint256 amount, uint256 extraWait) external {
        address a = _actor(actorSeed);
        uint256 staked = far.stakingBalance(a);
        if (staked == 0) return;
        amount = bound(amount, 1, staked);
        uint256 unlock = far.unlockTime(a);
        if (block.timestamp < unlock) vm.warp(unlock + bound(extraWait, 0, 3 days));
        vm.prank(a);
        far.unstake(amount);
        calls["unstake"]++;
    }

    function claimRewards(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        (uint256 reward, uint256 share) = far.claimable(a);
        uint256 headroom = far.cap() - far.totalSupply();
        uint256 mintable = reward < headroom ? reward : headroom;
        if (mintable == 0 && share == 0) return;
        uint256 supply0 = far.totalSupply();
        uint256 bal0 = far.balanceOf(a);
        vm.prank(a);
        far.claimRewards();
        uint256 minted = far.totalSupply() - supply0;
        if (minted > headroom) ghostCapOverflows++;
        ghostRewardsMinted += minted;
        ghostShareClaimed += far.balanceOf(a) - bal0 - minted;
        calls["claimRewards"]++;
    }

    /// Revenue pushed straight into the stakers' pool by another REVENUE_ROLE holder.
    function distribute(uint256 amount) external {
        if (far.totalStaked() == 0) return;
        uint256 bal = far.balanceOf(address(this));
        if (bal == 0) return;
        amount = bound(amount, 1, _min(bal, 100_000 ether));
        far.distributeRevenue(amount);
        ghostDirectRevenue += amount;
        calls["distribute"]++;
    }

    // ------------------------------------------------------------------ environment

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 60 days));
        calls["warp"]++;
    }

    /// Occasional high reward rates push the supply into the cap.
    function setRewardRate(uint256 rate) external {
        vm.prank(admin);
        far.setRewardRate(bound(rate, 0, 10_000));
        calls["setRewardRate"]++;
    }

    // ------------------------------------------------------------------ views for invariants

    function sumUserBalances() external view returns (uint256 s) {
        for (uint256 i = 0; i < actors.length; i++) {
            s += pay.userBalances(actors[i]);
        }
    }

    function sumOpenEscrows() external view returns (uint256 s) {
        for (uint256 i = 0; i < openTasks.length; i++) {
            s += escrowOf[openTasks[i]];
        }
    }

    function sumStakes() external view returns (uint256 s) {
        for (uint256 i = 0; i < actors.length; i++) {
            s += far.stakingBalance(actors[i]);
        }
    }

    function sumNodeBalances() external view returns (uint256 s) {
        for (uint256 i = 0; i < nodes.length; i++) {
            s += far.balanceOf(nodes[i]);
        }
    }
}
